CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT nme FROM events;

-- expect exit 2
-- error: 5:24 Referenced column "nme" not found in FROM clause!
-- hint: did you mean "name", "amount"?
