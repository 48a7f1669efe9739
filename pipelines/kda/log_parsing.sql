-- KDA SQL Reference, W3C_LOG_PARSE and FAST_REGEX_LOG_PARSE: web server access log lines
-- (NCSA extended format) split into fields.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "message" VARCHAR
) WITH (connector = 'file', path = 'pipelines/kda/data/access_log.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    host      VARCHAR(64),
    request   VARCHAR(256),
    status    VARCHAR(8),
    referrer  VARCHAR(256),
    agent     VARCHAR(256),
    method    VARCHAR(16),
    path      VARCHAR(256));

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM t.r.COLUMN1, t.r.COLUMN5, t.r.COLUMN6, t.r.COLUMN8, t.r.COLUMN9,
                  t.f.COLUMN1, t.f.COLUMN2
    FROM (SELECT STREAM W3C_LOG_PARSE("message", 'NCSA EXTENDED') AS r,
                        FAST_REGEX_LOG_PARSE("message", '.*"(\w+) (\S+) .*') AS f
          FROM "SOURCE_SQL_STREAM_001") AS t;
