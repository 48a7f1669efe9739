-- Tumbling window on event time alone: the binding declares a watermark on the event-time
-- column (events may arrive up to 10 seconds out of order), so each minute closes once the
-- stream's event time has passed its end by 10 seconds.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "event_time" TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "price" REAL,
    WATERMARK FOR "event_time" AS "event_time" - INTERVAL '10' SECOND
) WITH (connector = 'file', path = 'pipelines/kda/data/ticks_event_time.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    window_start  TIMESTAMP,
    ticker_symbol VARCHAR(4),
    avg_price     DOUBLE,
    ticker_count  INTEGER);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM FLOOR("SOURCE_SQL_STREAM_001"."event_time" TO MINUTE),
                      ticker_symbol, AVG(price), COUNT(*)
        FROM "SOURCE_SQL_STREAM_001"
        GROUP BY FLOOR("SOURCE_SQL_STREAM_001"."event_time" TO MINUTE), ticker_symbol;
