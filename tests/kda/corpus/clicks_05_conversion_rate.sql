-- Purchases over all events per two minutes.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "user_id" VARCHAR, "page" VARCHAR, "event_type" VARCHAR, "duration_ms" INTEGER
) WITH (connector = 'file', path = '$DATA/clicks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("purchases" INTEGER, "events" INTEGER, "rate" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM SUM(CASE WHEN "event_type" = 'purchase' THEN 1 ELSE 0 END), COUNT(*),
           CAST(SUM(CASE WHEN "event_type" = 'purchase' THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' MINUTE);
