CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, count(*) AS n FROM TUMBLE(events, ts) GROUP BY ALL;

-- expect exit 2
-- error: 5:57 TUMBLE takes 3 arguments
-- hint: write TUMBLE(stream, time_column, INTERVAL '1 minute')
