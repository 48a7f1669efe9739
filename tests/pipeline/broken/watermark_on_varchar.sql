CREATE SOURCE events (id BIGINT, ts VARCHAR,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 2:19 the WATERMARK column 'ts' is string, not a timestamp
-- hint: declare ts TIMESTAMP (JSON text such as
