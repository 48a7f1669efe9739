CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, count(*) AS n FROM TUMBLE(events, amount, INTERVAL '1' MINUTE) GROUP BY ALL;

-- expect exit 2
-- error: 5:72 'amount' of 'events' has no watermark, so windows on it would never
-- hint: declare WATERMARK FOR amount AS amount - INTERVAL '5
