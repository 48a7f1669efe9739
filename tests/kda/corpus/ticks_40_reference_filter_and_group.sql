-- Reference data used to filter and to group: volume per company per minute, known companies only.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');
CREATE REFERENCE TABLE "CompanyName" ("Ticker" VARCHAR, "Company" VARCHAR)
    WITH (path = '$DATA/companies.csv', format = 'csv');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("Company" VARCHAR(20), trades INTEGER, turnover DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM c."Company", COUNT(*), SUM(s.price)
    FROM "SOURCE_SQL_STREAM_001" AS s JOIN "CompanyName" AS c ON s.ticker_symbol = c."Ticker"
    GROUP BY c."Company", STEP(s.ROWTIME BY INTERVAL '1' MINUTE);
