CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, count(*) AS n FROM TUMBLE(evnts, ts, INTERVAL '1' MINUTE) GROUP BY ALL;

-- expect exit 2
-- error: 5:64 TUMBLE reads 'evnts', which is no source or view
-- hint: known streams: events
