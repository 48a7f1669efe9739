CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
CREATE FUNCTION shout(VARCHAR, BIGINT) RETURNS VARCHAR AS 'udfs:shout';
INSERT INTO out SELECT shout(name, id) AS loud FROM events;

-- expect exit 2
-- error: 5:17 function 'shout' is declared with 2 argument(s), but udfs:shout takes (text: str) -> str
-- hint: make the declared argument types match the function's parameters
