-- IN, BETWEEN, LIKE, NOT and IS NOT NULL in one filter.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "user_id" VARCHAR, "page" VARCHAR, "event_type" VARCHAR, "duration_ms" INTEGER
) WITH (connector = 'file', path = '$DATA/clicks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("user_id" VARCHAR(8), "page" VARCHAR(16), "duration_ms" INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "user_id", "page", "duration_ms" FROM "SOURCE_SQL_STREAM_001"
    WHERE "user_id" IN ('u1', 'u2', 'u3') AND "duration_ms" BETWEEN 500 AND 3000
      AND "page" LIKE '/product/%' AND NOT "event_type" = 'click' AND "page" IS NOT NULL;
