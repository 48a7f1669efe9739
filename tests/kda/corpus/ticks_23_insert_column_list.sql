-- INSERT with a column list in another order than the stream's; an unlisted column is NULL.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), sector VARCHAR(16), price DOUBLE, note VARCHAR(8));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM" (price, ticker_symbol, sector)
    SELECT STREAM price, ticker_symbol, sector FROM "SOURCE_SQL_STREAM_001" WHERE price > 150;
