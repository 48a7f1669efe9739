CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT name, count(*) AS n FROM TUMBLE(events, ts, INTERVAL '1' MINUTE) GROUP BY name;

-- expect exit 2
-- error: 5:1 a window aggregate must group by window_start or window_end
-- hint: add window_start, window_end to the SELECT list and GROUP
