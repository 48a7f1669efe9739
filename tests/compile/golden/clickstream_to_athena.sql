-- Flink SQL job for the pipeline 'clickstream_to_athena' (clickstream_to_athena.sql),
-- written by `flowsql compile --target flink`; for Flink 1.19.1 or later.
-- The connector jars it needs are listed in README.md beside this file.

-- Firehose-style folders and flowsql's windows are in UTC.
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.name' = 'clickstream_to_athena';
-- Parquet files are finished at checkpoints: checkpoint as often as the shortest buffer_interval.
SET 'execution.checkpointing.interval' = '300 s';

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
  'number-of-rows' = '20000',
  'rows-per-second' = '200'
);

CREATE TABLE `country_minutes` (
  `window_start` TIMESTAMP(3),
  `country` STRING,
  `Events` BIGINT,
  `revenue` DECIMAL(12, 2),
  `pages` ARRAY<STRING>,
  `price_range` ROW<`lowest` DOUBLE, `highest` DOUBLE>,
  `dt` STRING
) PARTITIONED BY (`country`, `dt`) WITH (
  'connector' = 'filesystem',
  'path' = 'lake/country_minutes/reports/',
  'format' = 'parquet',
  'sink.rolling-policy.file-size' = '64000000b',
  'sink.rolling-policy.rollover-interval' = '300 s',
  'sink.rolling-policy.check-interval' = '60 s',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'success-file'
);

CREATE TABLE `raw_events` (
  `event_id` BIGINT,
  `user_id` STRING,
  `page` STRING,
  `event_type` STRING,
  `country` STRING,
  `price` DOUBLE,
  `ts` TIMESTAMP(3),
  `year` STRING,
  `month` STRING,
  `day` STRING,
  `hour` STRING
) PARTITIONED BY (`year`, `month`, `day`, `hour`) WITH (
  'connector' = 'filesystem',
  'path' = 'lake/raw_events/',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601',
  'sink.rolling-policy.file-size' = '64000000b',
  'sink.rolling-policy.rollover-interval' = '300 s',
  'sink.rolling-policy.check-interval' = '60 s',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'success-file'
);

EXECUTE STATEMENT SET
BEGIN
INSERT INTO `country_minutes`
SELECT
  *,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy-MM-dd') AS `dt`
FROM (
  SELECT
    `window_start`,
    `country`,
    COUNT(*) AS `Events`,
    CAST(SUM(`price`) FILTER(WHERE
      `event_type` = 'purchase') AS DECIMAL(12, 2)) AS `revenue`,
    ARRAY_SORT(ARRAY_AGG(DISTINCT `page`), TRUE, FALSE) AS `pages`,
    ROW(MIN(`price`), MAX(`price`)) AS `price_range`
  FROM TABLE(TUMBLE(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '1' MINUTE))
  GROUP BY
    `window_start`,
    `country`,
    `window_end`
) AS `q`;

INSERT INTO `raw_events`
SELECT
  `event_id`,
  `user_id`,
  `page`,
  `event_type`,
  `country`,
  `price`,
  `ts`,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy') AS `year`,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'MM') AS `month`,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'dd') AS `day`,
  DATE_FORMAT(CURRENT_TIMESTAMP, 'HH') AS `hour`
FROM `clicks`;
END;
