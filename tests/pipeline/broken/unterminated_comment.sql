CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
/* the report
INSERT INTO out SELECT id FROM events;

-- expect exit 2
-- error: 5:1 unterminated comment: it opens here and never ends
-- hint: close it with
