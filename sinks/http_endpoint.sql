-- An HTTP endpoint that speaks Firehose's HTTP delivery protocol (an observability vendor, an
-- in-house collector). The URL comes from ENDPOINT_URL (a collector on this machine when it is
-- not set) and the access key from ENDPOINT_ACCESS_KEY (no key header when it is not set).
-- Batches the endpoint does not take within 5 minutes go to
-- backup/http/errors/http-endpoint-failed/... as JSON lines, never dropped.
-- Pipelines use it with: CREATE SINK name FROM '../sinks/http_endpoint.sql' WITH (...overrides);
CREATE SINK http_endpoint WITH (
    connector = 'http',
    url = '${ENDPOINT_URL:-http://127.0.0.1:8080/ingest}',
    access_key = '${ENDPOINT_ACCESS_KEY:-}',
    content_encoding = 'gzip',
    retry_duration = '5 min',
    buffer_size = '5 MB',
    buffer_interval = '60 s',
    backup_path = 'backup/http'
);
