-- Average order amount per channel over the last 50 orders of the channel.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "amount"  DOUBLE  MAPPING '$.order.amount',
    "channel" VARCHAR MAPPING '$.channel'
) WITH (connector = 'file', path = '$DATA/orders.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("channel" VARCHAR(4), "amount" DOUBLE, "avg50" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "channel", "amount", AVG("amount") OVER (PARTITION BY "channel" ROWS 49 PRECEDING)
    FROM "SOURCE_SQL_STREAM_001";
