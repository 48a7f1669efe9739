-- Clickstream to a data lake, as a Firehose delivery stream would do it, and more safely:
-- every raw event to partitioned Parquet on S3 (one folder per event type and day), and a
-- per-minute aggregate by event type to an HTTP endpoint.
--
--   export LAKE_BUCKET=my-lake ENDPOINT_URL=https://collector.example.com/ingest ENDPOINT_ACCESS_KEY=...
--   flowsql run pipelines/clickstream_to_lake.sql
--
-- Against local servers, add AWS_ENDPOINT_URL=http://127.0.0.1:5000 (any S3-compatible server).

CREATE SOURCE clicks (
    event_id BIGINT,
    user_id VARCHAR,
    page VARCHAR,
    event_type VARCHAR,
    country VARCHAR,
    price DOUBLE,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'generator', count = 100000, rate = 1000, seed = 11);

-- Raw events: one object per event type in each flush, e.g.
-- clickstream/raw/event_type=view/dt=2024-01-01/clickstream_to_lake-raw_events-2024-01-01-00-00-02-000001.parquet
CREATE SINK raw_events FROM '../sinks/s3_lake.sql' WITH (
    prefix = 'clickstream/raw/event_type=!{partitionKeyFromQuery:event_type}/dt=!{timestamp:yyyy-MM-dd}/',
    error_output_prefix = 'clickstream/errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
    buffer_interval = '10 s'
);

-- Per-minute metrics: one record per event type and minute, posted when the minute closes.
CREATE SINK minute_metrics FROM '../sinks/http_endpoint.sql' WITH (
    common_attributes = '{"pipeline": "clickstream_to_lake"}',
    buffer_interval = '5 s'
);

INSERT INTO raw_events
SELECT * FROM clicks;

INSERT INTO minute_metrics
SELECT window_start, window_end, event_type,
       count(*) AS events,
       count(DISTINCT user_id) AS users,
       round(sum(price) FILTER (WHERE event_type = 'purchase'), 2) AS revenue
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
GROUP BY ALL;
