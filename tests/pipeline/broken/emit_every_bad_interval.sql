CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT name, count(*) AS n FROM events GROUP BY name EMIT EVERY INTERVAL '0' SECOND;

-- expect exit 2
-- error: 5:81 EMIT EVERY needs a positive INTERVAL, found "INTERVAL '0' SECOND"
-- hint: write EMIT EVERY INTERVAL '5' MINUTE or EMIT CHANGES at the
