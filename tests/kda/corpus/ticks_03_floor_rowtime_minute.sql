-- Tumbling window written with FLOOR(ROWTIME TO MINUTE); the window's start is selected too.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" REAL, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    minute_start TIMESTAMP, ticker_symbol VARCHAR(4), avg_price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MINUTE), ticker_symbol, AVG(price)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MINUTE), ticker_symbol;
