-- One in-application stream per concern fed from one input, read by two pumps into one output.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "device_id" VARCHAR, "temperature" DOUBLE, "humidity" INTEGER, "status" VARCHAR
) WITH (connector = 'file', path = '$DATA/sensors.json');

CREATE OR REPLACE STREAM "READINGS" ("device" VARCHAR(16), "temp" DOUBLE, "hum" INTEGER);
CREATE OR REPLACE PUMP "READ_PUMP" AS INSERT INTO "READINGS"
    SELECT STREAM "device_id", "temperature", "humidity" FROM "SOURCE_SQL_STREAM_001" WHERE "status" <> 'FAIL';
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("device" VARCHAR(16), "metric" VARCHAR(8), "value" DOUBLE);
CREATE OR REPLACE PUMP "TEMP_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "device", 'temp', MAX("temp") FROM "READINGS"
    GROUP BY "device", STEP("READINGS".ROWTIME BY INTERVAL '3' MINUTE);
CREATE OR REPLACE PUMP "HUM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "device", 'hum', AVG("hum") FROM "READINGS"
    GROUP BY "device", STEP("READINGS".ROWTIME BY INTERVAL '3' MINUTE);
