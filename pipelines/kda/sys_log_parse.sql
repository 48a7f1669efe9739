-- KDA SQL Reference, SYS_LOG_PARSE: "Mon DD HH:MM:SS server message" lines split into
-- COLUMN1 (TIMESTAMP) and COLUMN2 (the text after the time stamp).
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "message" VARCHAR
) WITH (connector = 'file', path = 'pipelines/kda/data/syslog.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    logged_at  TIMESTAMP,
    log_text   VARCHAR(256));

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM t.r.COLUMN1, t.r.COLUMN2
    FROM (SELECT STREAM SYS_LOG_PARSE("message") AS r FROM "SOURCE_SQL_STREAM_001") AS t;
