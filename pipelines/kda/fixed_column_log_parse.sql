-- KDA SQL Reference, FIXED_COLUMN_LOG_PARSE: fixed-width records (columns start at 0)
-- converted to their SQL types, a date with its own format.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "message" VARCHAR
) WITH (connector = 'file', path = 'pipelines/kda/data/fixed_width.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    shipped   DATE,
    company   VARCHAR(10),
    quantity  INTEGER,
    status    VARCHAR(8));

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM t.r.SHIPPED, t.r.COMPANY, t.r.QUANTITY, t.r.STATUS
    FROM (SELECT STREAM FIXED_COLUMN_LOG_PARSE("message",
              'SHIPPED TYPE DATE ''yyyyMMdd'' START 0 FOR 8, COMPANY TYPE VARCHAR(10) START 8 FOR 10,
               QUANTITY TYPE INTEGER START 18 FOR 6, STATUS TYPE VARCHAR(8) START 24') AS r
          FROM "SOURCE_SQL_STREAM_001") AS t;
