-- Clickstream into an Apache Iceberg table, no AWS account and no network: 100,000 generated
-- events, every raw event appended to lake/ (an embedded SQLite catalog in lake/catalog.db, the
-- data beside it), partitioned by day and event type, and a per-minute report per page.
--
--   flowsql run pipelines/clickstream_to_iceberg.sql
--
-- Any PyIceberg program opens the tables:
--   SqlCatalog('flowsql', uri='sqlite:///lake/catalog.db', warehouse='file://<absolute path>/lake')

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

CREATE SINK raw_events WITH (
    connector = 'iceberg',
    table = 'clickstream.raw_events',
    warehouse = 'lake/',
    partition_by = 'day(ts), event_type',
    buffer_interval = '30 s'
);

CREATE SINK page_minutes WITH (
    connector = 'iceberg',
    table = 'clickstream.page_minutes',
    warehouse = 'lake/',
    partition_by = 'day(window_start), page',
    buffer_interval = '30 s'
);

INSERT INTO raw_events
SELECT event_id, user_id, page, event_type, country, price, ts FROM clicks;

INSERT INTO page_minutes
SELECT window_start, window_end, page,
       count(*) AS views,
       count(DISTINCT user_id) AS visitors,
       round(sum(price) FILTER (WHERE event_type = 'purchase'), 2) AS revenue
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
GROUP BY ALL;
