CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2' SECONDZ)
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 2:25 cannot read the interval INTERVAL '2' SECONDZ
-- hint: unknown unit SECONDZ: did you mean SECOND? (write INTERVAL
