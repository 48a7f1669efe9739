CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE TABLE orders (id BIGINT, total DOUBLE) WITH (connector = 'file', path = 'data/events.ndjson', format = 'debezium-json');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 5:1 table 'orders' needs a PRIMARY KEY
-- hint: add PRIMARY KEY (id) after the columns: changes are matched
