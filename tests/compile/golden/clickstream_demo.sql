-- Flink SQL job for the pipeline 'clickstream_demo' (clickstream_demo.sql),
-- written by `flowsql compile --target flink`; for Flink 1.19.1 or later.
-- The connector jars it needs are listed in README.md beside this file.

-- Firehose-style folders and flowsql's windows are in UTC.
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.name' = 'clickstream_demo';
-- Parquet files are finished at checkpoints: checkpoint as often as the shortest buffer_interval.
SET 'execution.checkpointing.interval' = '10 s';

CREATE TABLE `clicks` (
  `event_id` BIGINT,
  `user_id` STRING,
  `page` STRING,
  `event_type` STRING,
  `country` STRING,
  `price` DOUBLE,
  `ts` TIMESTAMP(3),
  `arrival_time` AS PROCTIME(),
  WATERMARK FOR `ts` AS `ts` - INTERVAL '5' SECOND
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '200000',
  'rows-per-second' = '1000'
);

CREATE TABLE `page_minutes` (
  `window_start` TIMESTAMP(3),
  `window_end` TIMESTAMP(3),
  `page` STRING,
  `views` BIGINT,
  `visitors` BIGINT,
  `revenue` DOUBLE,
  `dt` STRING,
  `hour` STRING
) PARTITIONED BY (`dt`, `hour`) WITH (
  'connector' = 'filesystem',
  'path' = 'lake/page_minutes/',
  'format' = 'parquet',
  'parquet.compression' = 'SNAPPY',
  'sink.rolling-policy.file-size' = '64000000b',
  'sink.rolling-policy.rollover-interval' = '60 s',
  'sink.rolling-policy.check-interval' = '60 s',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'success-file'
);

CREATE TABLE `console` (
  `window_start` TIMESTAMP(3),
  `events` BIGINT,
  `users` BIGINT,
  `revenue` DOUBLE
) WITH (
  'connector' = 'print'
);

CREATE TABLE `sales_raw` (
  `event_id` BIGINT,
  `user_id` STRING,
  `page` STRING,
  `event_type` STRING,
  `country` STRING,
  `price` DOUBLE,
  `ts` TIMESTAMP(3)
) PARTITIONED BY (`event_type`) WITH (
  'connector' = 'filesystem',
  'path' = 'lake/sales/',
  'format' = 'parquet',
  'parquet.compression' = 'ZSTD',
  'sink.rolling-policy.file-size' = '64000000b',
  'sink.rolling-policy.rollover-interval' = '10 s',
  'sink.rolling-policy.check-interval' = '10 s',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'success-file'
);

CREATE TEMPORARY VIEW `sales` AS
SELECT
  `event_id`,
  `user_id`,
  `page`,
  `event_type`,
  `country`,
  `price`,
  `ts`
FROM `clicks`
WHERE
  `event_type` IN ('add_to_cart', 'purchase');

EXECUTE STATEMENT SET
BEGIN
INSERT INTO `page_minutes`
SELECT
  *,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy-MM-dd') AS `dt`,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'HH') AS `hour`
FROM (
  SELECT
    `window_start`,
    `window_end`,
    `page`,
    COUNT(*) AS `views`,
    COUNT(DISTINCT `user_id`) AS `visitors`,
    SUM(`price`) FILTER(WHERE
      `event_type` = 'purchase') AS `revenue`
  FROM TABLE(TUMBLE(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '1' MINUTE))
  GROUP BY
    `window_start`,
    `window_end`,
    `page`
) AS `q`;

INSERT INTO `console`
SELECT
  `window_start`,
  COUNT(*) AS `events`,
  COUNT(DISTINCT `user_id`) AS `users`,
  ROUND(SUM(`price`) FILTER(WHERE
    `event_type` = 'purchase'), 2) AS `revenue`
FROM TABLE(TUMBLE(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '1' MINUTE))
GROUP BY
  `window_start`,
  `window_end`;

INSERT INTO `sales_raw`
SELECT
  *
FROM `sales`;
END;
