CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" REAL)
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), avg_price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, avg_price FROM (
    SELECT STREAM ticker_symbol, AVG(price) OVER W1 AS avg_price FROM "SOURCE_SQL_STREAM_001"
    WINDOW W1 AS (PARTITION BY ticker_symbol RANGE INTERVAL '1' MINUTE PRECEDING));

-- expect exit 2
-- error: 8:12 a sliding window (OVER ...) inside a subquery is not supported
-- hint: compute it in a pump of its own that writes an
