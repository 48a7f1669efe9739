-- An S3 data lake: Parquet (snappy) in Hive-style folders by day and hour, failed records under
-- errors/<error type>/. The bucket comes from the environment variable LAKE_BUCKET (flowsql-lake
-- when it is not set); credentials, region and AWS_ENDPOINT_URL (for an S3-compatible server)
-- are found the standard AWS way.
-- Pipelines use it with: CREATE SINK name FROM '../sinks/s3_lake.sql' WITH (prefix = 'events/...');
CREATE SINK s3_lake WITH (
    connector = 's3',
    bucket = '${LAKE_BUCKET:-flowsql-lake}',
    format = 'parquet',
    compression = 'snappy',
    prefix = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
    error_output_prefix = 'errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
    buffer_size = '64 MB',
    buffer_interval = '60 s',
    retry_duration = '10 min',
    server_side_encryption = 'AES256'
);
