-- Numeric functions per reading: ROUND, FLOOR, CEIL, ABS, MOD, POWER, and COALESCE/NULLIF.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    r DOUBLE, f DOUBLE, c DOUBLE, a DOUBLE, m INTEGER, p DOUBLE, s VARCHAR(8));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ROUND("temperature", 0), FLOOR("temperature"), CEIL("temperature"), ABS("temperature" - 22),
           MOD("humidity", 7), POWER("humidity", 2), COALESCE(NULLIF("status", 'OK'), 'fine')
    FROM "SOURCE_SQL_STREAM_001";
