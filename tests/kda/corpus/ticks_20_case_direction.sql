-- A CASE per row, as apps label price moves.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), direction VARCHAR(4), change DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol,
           CASE WHEN change > 0 THEN 'UP' WHEN change < 0 THEN 'DOWN' ELSE 'FLAT' END,
           change
    FROM "SOURCE_SQL_STREAM_001";
