-- Clickstream to an Athena-ready lake: a per-minute report by country as Parquet in Hive
-- folders, and the raw events as gzip JSON in Firehose's default yyyy/MM/dd/HH folders.
--
--   flowsql run pipelines/clickstream_to_athena.sql
--   flowsql ddl pipelines/clickstream_to_athena.sql     # the Athena tables for both sinks

CREATE SOURCE clicks (
    event_id BIGINT,
    user_id VARCHAR,
    page VARCHAR,
    event_type VARCHAR,
    country VARCHAR,
    price DOUBLE,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'generator', count = 20000, rate = 200, seed = 11);

CREATE SINK country_minutes WITH (
    connector = 'file',
    path = 'lake/country_minutes',
    format = 'parquet',
    prefix = 'reports/country=!{partitionKeyFromQuery:country}/dt=!{timestamp:yyyy-MM-dd}/',
    buffer_size = '64 MB',
    buffer_interval = '5 minutes'
);

CREATE SINK raw_events WITH (
    connector = 'file',
    path = 'lake/raw_events',
    format = 'json',
    compression = 'gzip',
    buffer_size = '64 MB',
    buffer_interval = '5 minutes'
);

-- Decimals, lists and structs map to Athena's decimal(p,s), array<...> and struct<...>.
INSERT INTO country_minutes
SELECT window_start, country,
       count(*) AS Events,
       CAST(sum(price) FILTER (WHERE event_type = 'purchase') AS DECIMAL(12, 2)) AS revenue,
       list(DISTINCT page ORDER BY page) AS pages,
       {'lowest': min(price), 'highest': max(price)} AS price_range
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
GROUP BY ALL;

INSERT INTO raw_events
SELECT event_id, user_id, page, event_type, country, price, ts FROM clicks;
