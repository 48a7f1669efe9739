-- Buys and sells of one ticker within 30 seconds of each other: a stream-to-stream join.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "BUYS" (ticker VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "BUY_PUMP" AS INSERT INTO "BUYS"
    SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE STREAM "SELLS" (ticker VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "SELL_PUMP" AS INSERT INTO "SELLS"
    SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change <= 0;
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), buy_price DOUBLE, sell_price DOUBLE);
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM b.ticker, b.price, s.price
    FROM "BUYS" OVER (RANGE INTERVAL '30' SECOND PRECEDING) AS b
    JOIN "SELLS" OVER (RANGE INTERVAL '30' SECOND PRECEDING) AS s
    ON b.ticker = s.ticker;
