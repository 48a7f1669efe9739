-- Counts of each status per minute with SUM(CASE ...), a common dashboard shape.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ok_count INTEGER, warn_count INTEGER, fail_count INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM SUM(CASE WHEN "status" = 'OK' THEN 1 ELSE 0 END),
                  SUM(CASE WHEN "status" = 'WARN' THEN 1 ELSE 0 END),
                  SUM(CASE WHEN "status" = 'FAIL' THEN 1 ELSE 0 END)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
