CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE FUNCTION answer RETURNS BIGINT AS 'udfs.py:not_a_function';
INSERT INTO out SELECT answer() AS a FROM events;

-- expect exit 2
-- error: 5:42 function 'answer': 'not_a_function' in
