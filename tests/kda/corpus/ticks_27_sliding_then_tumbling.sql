-- A sliding average into an in-application stream, then its highest value per ticker per minute.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "SMOOTHED" (ticker_symbol VARCHAR(4), avg_price DOUBLE);
CREATE OR REPLACE PUMP "SMOOTH_PUMP" AS INSERT INTO "SMOOTHED"
    SELECT STREAM ticker_symbol, AVG(price) OVER (PARTITION BY ticker_symbol ROWS 4 PRECEDING)
    FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), peak DOUBLE);
CREATE OR REPLACE PUMP "PEAK_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, MAX(avg_price) FROM "SMOOTHED"
    GROUP BY ticker_symbol, STEP("SMOOTHED".ROWTIME BY INTERVAL '1' MINUTE);
