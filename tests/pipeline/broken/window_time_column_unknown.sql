CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, count(*) AS n FROM TUMBLE(events, tss, INTERVAL '1' MINUTE) GROUP BY ALL;

-- expect exit 2
-- error: 5:72 'events' has no time column 'tss'
-- hint: time columns of this stream: arrival_time, ts
