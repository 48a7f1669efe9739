-- Open and close of each ticker's minute: FIRST_VALUE / LAST_VALUE as aggregates.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), open_price DOUBLE, close_price DOUBLE, high DOUBLE, low DOUBLE);
CREATE OR REPLACE PUMP "OHLC_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, FIRST_VALUE(price), LAST_VALUE(price), MAX(price), MIN(price)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY ticker_symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
