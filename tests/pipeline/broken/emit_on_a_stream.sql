CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT name, count(*) AS n FROM events GROUP BY name EMIT CHANGES;

-- expect exit 2
-- error: 5:1 EMIT applies to a query over a CDC table (CREATE TABLE ... PRIMARY
-- hint: windowed queries emit each window once when it closes; drop
