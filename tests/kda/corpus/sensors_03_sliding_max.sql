-- The highest temperature of each device's last two minutes, per reading.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("device_id" VARCHAR(16), "temperature" DOUBLE, "max_2m" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "device_id", "temperature",
           MAX("temperature") OVER (PARTITION BY "device_id" RANGE INTERVAL '2' MINUTE PRECEDING)
    FROM "SOURCE_SQL_STREAM_001";
