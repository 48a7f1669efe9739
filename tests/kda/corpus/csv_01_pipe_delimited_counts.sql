-- CSV input ('|' between columns, columns by position): ticks per sector per minute.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "price" REAL
) WITH (connector = 'file', path = '$DATA/ticks.psv', format = 'csv', record_delimiter = '\n', delimiter = '|');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (sector VARCHAR(16), n INTEGER, avg_price REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM sector, COUNT(*), AVG(price) FROM "SOURCE_SQL_STREAM_001"
    GROUP BY sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
