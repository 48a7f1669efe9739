CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE VIEW v AS SELECT id FROM events;
CREATE VIEW v AS SELECT name FROM events;
INSERT INTO out SELECT id FROM v;

-- expect exit 2
-- error: 6:13 the name 'v' is declared twice
