CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'http', url = 'http://user:hunter2secret@127.0.0.1:9/in');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 4:43 sink 'out', option 'url': must not carry credentials; use
-- absent: hunter2secret
