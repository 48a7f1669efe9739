CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'file');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 4:1 sink 'out' (file) needs the option 'path'
