-- An alert per reading over a threshold, with its level.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "ALERT_STREAM" ("device_id" VARCHAR(16), "temperature" DOUBLE, "level" VARCHAR(8));
CREATE OR REPLACE PUMP "ALERT_PUMP" AS INSERT INTO "ALERT_STREAM"
    SELECT STREAM "device_id", "temperature",
           CASE WHEN "temperature" > 40 THEN 'CRITICAL' ELSE 'HIGH' END
    FROM "SOURCE_SQL_STREAM_001"
    WHERE "temperature" > 27 OR "status" = 'FAIL';
