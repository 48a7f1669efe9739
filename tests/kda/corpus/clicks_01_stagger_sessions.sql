-- Clickstream sessionisation: a stagger window per user, first and last page of each session.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "user_id" VARCHAR, "page" VARCHAR, "event_type" VARCHAR, "duration_ms" INTEGER
) WITH (connector = 'file', path = '$DATA/clicks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "user_id" VARCHAR(8), "first_page" VARCHAR(16), "last_page" VARCHAR(16), "events" INTEGER, "time_spent" BIGINT);
CREATE OR REPLACE PUMP "SESSION_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "user_id", FIRST_VALUE("page"), LAST_VALUE("page"), COUNT(*), SUM("duration_ms")
    FROM "SOURCE_SQL_STREAM_001"
    WINDOWED BY STAGGER (PARTITION BY "user_id" RANGE INTERVAL '2' MINUTE);
