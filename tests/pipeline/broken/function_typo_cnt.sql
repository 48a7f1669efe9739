CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT cnt(*) AS n FROM events;

-- expect exit 2
-- error: 5:24 Scalar Function with name cnt does not exist!
-- hint: did you mean count? (DuckDB: Did you mean "century"?)
