-- Enrich ticks with the company name from reference data (the reference-data tutorial's shape).
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');
CREATE REFERENCE TABLE "CompanyName" ("Ticker" VARCHAR, "Company" VARCHAR)
    WITH (path = '$DATA/companies.csv', format = 'csv');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), "Company" VARCHAR(20), price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, "c"."Company", price
    FROM "SOURCE_SQL_STREAM_001" LEFT JOIN "CompanyName" AS "c"
    ON "SOURCE_SQL_STREAM_001".ticker_symbol = "c"."Ticker";
