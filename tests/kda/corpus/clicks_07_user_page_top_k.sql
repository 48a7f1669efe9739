-- The most visited pages of each two minutes among purchases' users, TOP_K_ITEMS_TUMBLING.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "user_id" VARCHAR, "page" VARCHAR, "event_type" VARCHAR, "duration_ms" INTEGER
) WITH (connector = 'file', path = '$DATA/clicks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("page" VARCHAR(16), "most_frequent" BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(
        CURSOR(SELECT STREAM "page" FROM "SOURCE_SQL_STREAM_001" WHERE "event_type" <> 'purchase'),
        'page', 1, 120));
