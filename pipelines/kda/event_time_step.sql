-- KDA example "Timestamps and the ROWTIME Column": count per ticker by event time, grouped by
-- both STEP(event_time) and STEP(ROWTIME) so that results still emit as arrival time passes.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "event_time" TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/ticks_event_time.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    event_time    TIMESTAMP,
    ticker_symbol VARCHAR(4),
    ticker_count  INTEGER);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM STEP("SOURCE_SQL_STREAM_001".EVENT_TIME BY INTERVAL '60' SECOND) AS event_time,
                      ticker_symbol,
                      COUNT(*) AS ticker_count
        FROM "SOURCE_SQL_STREAM_001"
        GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND),
                 STEP("SOURCE_SQL_STREAM_001".EVENT_TIME BY INTERVAL '60' SECOND),
                 ticker_symbol;
