-- The last three ticks of each ticker, summed: ROWS 2 PRECEDING.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), last_three DOUBLE, seen INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol,
           SUM(change) OVER (PARTITION BY ticker_symbol ROWS 2 PRECEDING),
           COUNT(*) OVER (PARTITION BY ticker_symbol ROWS 2 PRECEDING)
    FROM "SOURCE_SQL_STREAM_001";
