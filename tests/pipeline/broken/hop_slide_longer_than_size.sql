CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, count(*) AS n FROM HOP(events, ts, INTERVAL '2' MINUTE, INTERVAL '1' MINUTE) GROUP BY ALL;

-- expect exit 2
-- error: 5:57 HOP's slide is longer than its size: rows would fall between windows
-- hint: write HOP(stream, time_column, INTERVAL '10 seconds'
