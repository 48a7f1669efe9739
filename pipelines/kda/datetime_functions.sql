-- KDA example "Transforming DateTime Values": a sender's string time read with
-- CHAR_TO_TIMESTAMP, printed with TIMESTAMP_TO_CHAR, and its delay to ROWTIME with TSDIFF.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "sent_at" VARCHAR,
    "bytes" INTEGER
) WITH (connector = 'file', path = 'pipelines/kda/data/web_events.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    sent_time    TIMESTAMP,
    sent_text    VARCHAR(32),
    delay_ms     BIGINT,
    sent_minute  TIMESTAMP,
    next_minute  TIMESTAMP,
    sent_epoch_ms BIGINT,
    bytes_bucket INTEGER);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss.SSS', "sent_at"),
                      TIMESTAMP_TO_CHAR('dd/MM/yyyy hh:mm:ss a', CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss.SSS', "sent_at")),
                      TSDIFF(ROWTIME, CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss.SSS', "sent_at")),
                      FLOOR(CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss.SSS', "sent_at") TO MINUTE),
                      CEIL(CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss.SSS', "sent_at") TO MINUTE),
                      UNIX_TIMESTAMP(CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss.SSS', "sent_at")),
                      STEP("bytes" BY 10)
        FROM "SOURCE_SQL_STREAM_001";
