CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = '${FLOWSQL_NO_SUCH_VARIABLE}');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 3:27 bad value '${FLOWSQL_NO_SUCH_VARIABLE}' for option 'path' of source
