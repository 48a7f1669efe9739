CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE VIEW v AS SELEC id FROM events;
INSERT INTO out SELECT * FROM v;

-- expect exit 2
-- error: 5:1 expected CREATE VIEW name AS SELECT ... or INSERT INTO sink SELECT ...
