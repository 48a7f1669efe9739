-- A KDA input schema with JSONPath row paths ($.order.customer.region ...), as the KDA console
-- discovers for nested JSON; each mapped column is read from its path. Revenue per region
-- per minute.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ORDER_ID" VARCHAR MAPPING '$.order.id',
    "REGION"   VARCHAR MAPPING '$.order.customer.region',
    "AMOUNT"   DOUBLE  MAPPING '$.order.amount'
) WITH (connector = 'file', path = 'pipelines/kda/data/nested_orders.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    region VARCHAR(8), orders INTEGER, revenue DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM COALESCE(REGION, 'UNKNOWN'), COUNT(*), SUM(AMOUNT)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY COALESCE(REGION, 'UNKNOWN'), STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
