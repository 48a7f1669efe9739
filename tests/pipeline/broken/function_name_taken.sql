CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE FUNCTION upper AS 'udfs:shout';
INSERT INTO out SELECT upper(name) AS loud FROM events;

-- expect exit 2
-- error: 5:17 function 'upper' cannot be registered: Catalog Error: Scalar Function with name "upper" already exists!
-- hint: choose a name no DuckDB function has
