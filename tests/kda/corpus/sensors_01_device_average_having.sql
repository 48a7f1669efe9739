-- IoT shape: average temperature per device per five minutes, only the warm ones.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("device_id" VARCHAR(16), "avg_temp" DOUBLE, "readings" INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "device_id", AVG("temperature"), COUNT(*)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY "device_id", STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '5' MINUTE)
    HAVING AVG("temperature") > 22;
