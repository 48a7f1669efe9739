CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE FUNCTION shout(VARCHR) RETURNS VARCHAR AS 'udfs:shout';
INSERT INTO out SELECT shout(name) AS loud FROM events;

-- expect exit 2
-- error: 5:23 unknown type 'VARCHR' for an argument type
