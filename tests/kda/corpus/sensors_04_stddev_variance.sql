-- Spread of each device's readings per two minutes: STDDEV_POP and VAR_SAMP.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("device_id" VARCHAR(16), "sd" DOUBLE, "var" DOUBLE, "n" INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "device_id", STDDEV_POP("temperature"), VAR_SAMP("humidity"), COUNT(*)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY "device_id", STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' MINUTE);
