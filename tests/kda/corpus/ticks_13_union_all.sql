-- Two reasons to flag a tick, one SELECT per reason joined by UNION ALL.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), reason VARCHAR(8), price DOUBLE);
CREATE OR REPLACE PUMP "FLAG_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, 'MOVE', price FROM "SOURCE_SQL_STREAM_001" WHERE ABS(change) > 2.5
    UNION ALL
    SELECT STREAM ticker_symbol, 'CHEAP', price FROM "SOURCE_SQL_STREAM_001" WHERE price < 20;
