CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE FUNCTION same AS 'udfs:untyped';
INSERT INTO out SELECT same(name) AS n FROM events;

-- expect exit 2
-- error: 5:17 function 'same': the type of argument 'text' is not known
-- hint: declare the types: CREATE FUNCTION name(VARCHAR, BIGINT) RETURNS DOUBLE
