CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'file', path = 'out', prefix = 'kind=!{partitionKeyFromQuery:kind}/');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 4:57 sink 'out', option 'prefix': !{partitionKeyFromQuery:kind} names no
