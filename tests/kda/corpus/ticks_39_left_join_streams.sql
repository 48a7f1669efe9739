-- A LEFT JOIN of two windowed streams: big moves with any cheap tick of the same sector
-- within a minute, kept with NULLs when there is none.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "MOVES" (sector VARCHAR(16), ticker VARCHAR(4), change DOUBLE);
CREATE OR REPLACE PUMP "MOVE_PUMP" AS INSERT INTO "MOVES"
    SELECT STREAM sector, ticker_symbol, change FROM "SOURCE_SQL_STREAM_001" WHERE ABS(change) > 2.8;
CREATE OR REPLACE STREAM "CHEAP" (sector VARCHAR(16), ticker VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "CHEAP_PUMP" AS INSERT INTO "CHEAP"
    SELECT STREAM sector, ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE price < 15;
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), change DOUBLE, cheap_ticker VARCHAR(4), cheap_price DOUBLE);
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM m.ticker, m.change, c.ticker, c.price
    FROM "MOVES" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS m
    LEFT JOIN "CHEAP" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS c
    ON m.sector = c.sector;
