CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, count(*) AS n FROM TUMBLE(events, ts, INTERVAL '1' MINUTS) GROUP BY ALL;

-- expect exit 2
-- error: 5:89 cannot read the interval INTERVAL '1' MINUTS
-- hint: unknown unit MINUTS: did you mean MINUTE? (write INTERVAL
