-- A JSON reference table of region names joined to mapped nested input.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "region" VARCHAR MAPPING '$.order.customer.region',
    "amount" DOUBLE  MAPPING '$.order.amount'
) WITH (connector = 'file', path = '$DATA/orders.json');
CREATE REFERENCE TABLE "REGIONS" ("code" VARCHAR, "name" VARCHAR)
    WITH (path = '$DATA/regions.json', format = 'json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("name" VARCHAR(32), "amount" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM r."name", s."amount"
    FROM "SOURCE_SQL_STREAM_001" AS s JOIN "REGIONS" AS r ON s."region" = r."code";
