-- Readings more than two standard deviations from the device's five-minute mean.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("device_id" VARCHAR(16), "temperature" DOUBLE, "mean" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "device_id", "temperature", "mean" FROM (
        SELECT STREAM "device_id", "temperature",
               AVG("temperature") OVER W AS "mean", STDDEV_SAMP("temperature") OVER W AS "sd"
        FROM "SOURCE_SQL_STREAM_001"
        WINDOW W AS (PARTITION BY "device_id" RANGE INTERVAL '5' MINUTE PRECEDING))
    WHERE ABS("temperature" - "mean") > 2 * "sd";
