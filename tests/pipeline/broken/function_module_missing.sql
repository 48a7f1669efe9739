CREATE FUNCTION shout AS 'no_such_module:shout';
CREATE SOURCE events (id BIGINT, name VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT shout(name) AS loud FROM events;

-- expect exit 2
-- error: 1:26 function 'shout': no module 'no_such_module' on the import path or beside the pipeline
-- hint: name it 'package.module:function'
