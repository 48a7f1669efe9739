CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
-- café report
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 5:7 the pipeline file is not UTF-8 text: byte 0xe9 cannot be read
-- hint: save the file as UTF-8 (for example: iconv -f latin1 -t
