-- CSV input filtered per row, with the ticker in lower case.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.psv', format = 'csv', record_delimiter = '\n', delimiter = '|');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM LOWER(ticker_symbol), price FROM "SOURCE_SQL_STREAM_001" WHERE sector IN ('RETAIL', 'MEDIA');
