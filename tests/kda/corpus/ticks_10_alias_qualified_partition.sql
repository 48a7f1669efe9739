-- Quoted alias-qualified names everywhere, PARTITION BY "s"."ticker_symbol".
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("ticker" VARCHAR(4), "maxChange" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "s"."ticker_symbol",
           MAX("s"."change") OVER (PARTITION BY "s"."ticker_symbol" RANGE INTERVAL '30' SECOND PRECEDING)
    FROM "SOURCE_SQL_STREAM_001" AS "s";
