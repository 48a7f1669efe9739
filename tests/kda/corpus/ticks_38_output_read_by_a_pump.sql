-- An application output that a further pump also reads: every tick to one output, and a
-- per-minute summary of that output to another.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE sector = 'TECHNOLOGY';
CREATE OR REPLACE STREAM "SUMMARY_STREAM" (ticker_symbol VARCHAR(4), avg_price DOUBLE);
CREATE OR REPLACE PUMP "SUMMARY_PUMP" AS INSERT INTO "SUMMARY_STREAM"
    SELECT STREAM ticker_symbol, AVG(price) FROM "DESTINATION_SQL_STREAM"
    GROUP BY ticker_symbol, STEP("DESTINATION_SQL_STREAM".ROWTIME BY INTERVAL '1' MINUTE);
