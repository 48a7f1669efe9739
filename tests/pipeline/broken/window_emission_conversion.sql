CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, sum(id + 'x') AS s FROM TUMBLE(events, ts, INTERVAL '1' MINUTE) GROUP BY ALL;

-- expect exit 2
-- error: 5:47 Could not convert string 'x' to INT64
