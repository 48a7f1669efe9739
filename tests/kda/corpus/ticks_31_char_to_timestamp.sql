-- A time field sent as text, parsed with CHAR_TO_TIMESTAMP and a Java date format.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "event_text" VARCHAR, "ticker_symbol" VARCHAR, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), event_ts TIMESTAMP, lag_seconds BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, CHAR_TO_TIMESTAMP('dd/MM/yyyy HH:mm:ss', event_text),
           TSDIFF(ROWTIME, CHAR_TO_TIMESTAMP('dd/MM/yyyy HH:mm:ss', event_text)) / 1000
    FROM "SOURCE_SQL_STREAM_001";
