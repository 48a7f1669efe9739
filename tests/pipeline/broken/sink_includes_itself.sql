CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out FROM 'sink_includes_itself.sql';
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 4:22 sink definition file 'sink_includes_itself.sql' includes itself
-- hint: CREATE SINK name FROM 'file' names a file that holds one
