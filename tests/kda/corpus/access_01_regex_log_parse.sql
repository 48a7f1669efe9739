-- Web access log lines split with REGEX_LOG_PARSE into host, method, path, status and size.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "log" VARCHAR)
    WITH (connector = 'file', path = '$DATA/access.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    host VARCHAR(16), method VARCHAR(8), path VARCHAR(32), status INTEGER, bytes INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM t.p.COLUMN1, t.p.COLUMN2, t.p.COLUMN3, CAST(t.p.COLUMN4 AS INTEGER), CAST(t.p.COLUMN5 AS INTEGER)
    FROM (SELECT STREAM REGEX_LOG_PARSE("log", '(\S+) \S+ \S+ \[[^\]]+\] "(\w+) (\S+) [^"]*" (\d+) (\d+)') AS p
          FROM "SOURCE_SQL_STREAM_001") AS t;
