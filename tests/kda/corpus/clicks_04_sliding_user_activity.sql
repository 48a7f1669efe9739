-- Each user's time spent over the last five minutes, per event.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "user_id" VARCHAR, "page" VARCHAR, "event_type" VARCHAR, "duration_ms" INTEGER
) WITH (connector = 'file', path = '$DATA/clicks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("user_id" VARCHAR(8), "page" VARCHAR(16), "spent_5m" BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "user_id", "page",
           SUM("duration_ms") OVER (PARTITION BY "user_id" RANGE INTERVAL '5' MINUTE PRECEDING)
    FROM "SOURCE_SQL_STREAM_001";
