-- KDA example "Adding a Reference Data Source": the company name of each tick, joined from a
-- CSV object (in KDA: an S3 object mapped to the in-application table "CompanyName").
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE REFERENCE TABLE "CompanyName" ("Ticker" VARCHAR, "Company" VARCHAR)
    WITH (path = 'pipelines/kda/data/companies.csv', format = 'csv');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4),
    "Company"     varchar(20),
    sector        VARCHAR(12),
    change        DOUBLE,
    price         DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, "c"."Company", sector, change, price
    FROM "SOURCE_SQL_STREAM_001" LEFT JOIN "CompanyName" as "c"
    ON "SOURCE_SQL_STREAM_001".ticker_symbol = "c"."Ticker";
