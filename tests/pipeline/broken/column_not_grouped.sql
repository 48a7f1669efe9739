CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT id, count(*) AS n FROM events GROUP BY name;

-- expect exit 2
-- error: 5:24 column "id" must appear in the GROUP BY clause or must be part of an
-- hint: Either add it to the GROUP BY list, or use ANY_VALUE("id")
