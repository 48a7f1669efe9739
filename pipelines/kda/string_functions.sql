-- KDA example "Transforming String Values" (SUBSTRING and POSITION): the domain of the
-- referring site, with the reference's other string functions.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "referrer" VARCHAR,
    "user_name" VARCHAR
) WITH (connector = 'file', path = 'pipelines/kda/data/web_events.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "ingest_time" TIMESTAMP,
    "referrer" VARCHAR(32),
    "domain"   VARCHAR(32),
    user_upper VARCHAR(16),
    name_length INTEGER,
    greeting VARCHAR(32));

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM ROWTIME as "ingest_time",
                      "referrer",
                      SUBSTRING("referrer", 12, (POSITION('.com' IN "referrer") - POSITION('www.' IN "referrer") - 4)),
                      UPPER(TRIM("user_name")),
                      CHAR_LENGTH(TRIM(BOTH ' ' FROM "user_name")),
                      'hello ' || LOWER(TRIM("user_name"))
        FROM "SOURCE_SQL_STREAM_001";
