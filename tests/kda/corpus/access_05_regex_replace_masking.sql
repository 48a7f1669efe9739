-- Masking the last part of each client address with REGEX_REPLACE before delivery, and the
-- record's time in milliseconds turned back into a TIMESTAMP with TO_TIMESTAMP.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "log" VARCHAR)
    WITH (connector = 'file', path = '$DATA/access.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (masked VARCHAR(128), at_ms BIGINT, at TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM REGEX_REPLACE("log", '^(\d+\.\d+\.\d+)\.\d+', '$1.x', 1, 0),
           UNIX_TIMESTAMP(ROWTIME), TO_TIMESTAMP(UNIX_TIMESTAMP(ROWTIME))
    FROM "SOURCE_SQL_STREAM_001";
