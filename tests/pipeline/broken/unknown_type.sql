CREATE SOURCE events (id BIGINT, name STRNG, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 1:39 unknown type 'STRNG' for column 'name'
-- hint: use a DuckDB type such as VARCHAR, BIGINT, DOUBLE, BOOLEAN,
