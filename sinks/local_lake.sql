-- A local data lake: Parquet (snappy) under ./lake/, Hive-style folders by day and hour.
-- Pipelines use it with: CREATE SINK name FROM '../sinks/local_lake.sql' WITH (path = 'lake/...');
CREATE SINK local_lake WITH (
    connector = 'file',
    path = 'lake',
    format = 'parquet',
    compression = 'snappy',
    prefix = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
    buffer_size = '64 MB',
    buffer_interval = '60 s'
);
