-- Deep JSON paths and a top-level key together; big orders only.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "order_id"    VARCHAR MAPPING '$.order.id',
    "customer_id" VARCHAR MAPPING '$.order.customer.id',
    "items"       INTEGER MAPPING '$.order.items',
    "channel"     VARCHAR
) WITH (connector = 'file', path = '$DATA/orders.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("order_id" VARCHAR(8), "customer_id" VARCHAR(8), "items" INTEGER, "channel" VARCHAR(4));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "order_id", "customer_id", "items", "channel" FROM "SOURCE_SQL_STREAM_001" WHERE "items" > 3;
