-- Views per page per minute, filtered on the event type.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "user_id" VARCHAR, "page" VARCHAR, "event_type" VARCHAR, "duration_ms" INTEGER
) WITH (connector = 'file', path = '$DATA/clicks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("page" VARCHAR(16), "views" INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "page", COUNT(*) FROM "SOURCE_SQL_STREAM_001"
    WHERE "event_type" = 'view'
    GROUP BY "page", STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
