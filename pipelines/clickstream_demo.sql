-- Clickstream demo: 200,000 generated events (200 s of event time), a per-minute report by
-- page and the raw purchase events written as Parquet to a local lake, and per-minute totals
-- on the terminal. No AWS account needed.
--
--   flowsql run pipelines/clickstream_demo.sql

CREATE SOURCE clicks (
    event_id BIGINT,
    user_id VARCHAR,
    page VARCHAR,
    event_type VARCHAR,
    country VARCHAR,
    price DOUBLE,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'generator', count = 200000, rate = 1000, seed = 7);

-- Views name intermediate streams: here only the rows that carry money.
CREATE VIEW sales AS
SELECT event_id, user_id, page, event_type, country, price, ts
FROM clicks
WHERE event_type IN ('add_to_cart', 'purchase');

CREATE SINK page_minutes FROM '../sinks/local_lake.sql' WITH (path = 'lake/page_minutes');

CREATE SINK sales_raw WITH (
    connector = 'file',
    path = 'lake/sales',
    format = 'parquet',
    compression = 'zstd',
    prefix = 'event_type=!{partitionKeyFromQuery:event_type}/',
    buffer_interval = '10 s'
);

-- A 1-minute tumbling report per page, emitted once each minute closes on event time.
INSERT INTO page_minutes
SELECT window_start, window_end, page,
       count(*) AS views,
       count(DISTINCT user_id) AS visitors,
       sum(price) FILTER (WHERE event_type = 'purchase') AS revenue
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
GROUP BY ALL;

-- Traffic per minute on the terminal, as each minute closes.
CREATE SINK console WITH (connector = 'stdout');

INSERT INTO console
SELECT window_start, count(*) AS events, count(DISTINCT user_id) AS users,
       round(sum(price) FILTER (WHERE event_type = 'purchase'), 2) AS revenue
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
GROUP BY ALL
ORDER BY window_start;

-- The raw money events, partitioned by event type, as they stream through.
INSERT INTO sales_raw
SELECT * FROM sales;
