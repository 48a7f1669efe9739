-- An event time promoted to ROWTIME with `AS ROWTIME`.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "event_time" TIMESTAMP, "ticker_symbol" VARCHAR, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "EVENTS" (ticker_symbol VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "EVENTS"
    SELECT STREAM event_time AS ROWTIME, ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";
