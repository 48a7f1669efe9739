CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'file', path = 'out', access_key = 'AKIAFLOWSQLSECRET001');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 4:57 unknown option 'access_key' for sink 'out' (file)
-- hint: allowed: buffer_interval, buffer_size, compression,
-- absent: AKIAFLOWSQLSECRET001
