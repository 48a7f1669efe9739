-- A sliding window in a FROM subquery feeding an in-application stream, whose ROWTIME the
-- next pump windows on.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "ABOVE_AVERAGE" (ticker_symbol VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "ABOVE_PUMP" AS INSERT INTO "ABOVE_AVERAGE"
    SELECT STREAM sym, p FROM (
        SELECT STREAM ticker_symbol AS sym, price AS p,
               AVG(price) OVER (PARTITION BY ticker_symbol ROWS 5 PRECEDING) AS a
        FROM "SOURCE_SQL_STREAM_001") AS x
    WHERE p > a;
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, COUNT(*) FROM "ABOVE_AVERAGE"
    GROUP BY ticker_symbol, STEP("ABOVE_AVERAGE".ROWTIME BY INTERVAL '1' MINUTE);
