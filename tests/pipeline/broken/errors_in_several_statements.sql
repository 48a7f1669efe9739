CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdot');
CREATE VIEW v AS SELECT cnt(*) AS n FROM events;
INSERT INTO out SELECT id FROM events WHERE amout > 1;

-- expect exit 2
-- error: 4:23 unknown connector 'stdot' for sink 'out'
-- hint: did you mean 'stdout'?
-- error: 5:25 Scalar Function with name cnt does not exist!
-- hint: did you mean count? (DuckDB: Did you mean "century"?)
-- error: 6:45 Referenced column "amout" not found in FROM clause!
-- hint: did you mean "amount", "name", "arrival_time"?
