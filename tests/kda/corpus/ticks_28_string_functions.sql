-- String functions of the reference: UPPER, LOWER, SUBSTRING, CHAR_LENGTH, POSITION, ||, TRIM.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    label VARCHAR(32), lower_sector VARCHAR(16), short VARCHAR(3), len INTEGER, where_n INTEGER, trimmed VARCHAR(16));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM UPPER(ticker_symbol) || '-' || sector,
           LOWER(sector),
           SUBSTRING(sector FROM 1 FOR 3),
           CHAR_LENGTH(sector),
           POSITION('N' IN sector),
           TRIM(BOTH 'R' FROM sector)
    FROM "SOURCE_SQL_STREAM_001";
