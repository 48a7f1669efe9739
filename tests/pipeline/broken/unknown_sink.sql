CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO ot SELECT id FROM events;

-- expect exit 2
-- error: 5:1 INSERT INTO names no declared sink: 'ot'
-- hint: did you mean 'out'?
