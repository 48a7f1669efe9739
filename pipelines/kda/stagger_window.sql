-- KDA example "Stagger Windows": trades counted per ticker and event minute, each key's window
-- opening at its first trade and closing one minute later, so that late trades of the same
-- minute still land in one window.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "event_time" TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/ticks_stagger.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    event_time TIMESTAMP,
    ticker_symbol VARCHAR(4),
    ticker_count INTEGER);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
  INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM
        EVENT_TIME,
        TICKER_SYMBOL,
        COUNT(TICKER_SYMBOL) AS ticker_count
    FROM "SOURCE_SQL_STREAM_001"
    WINDOWED BY STAGGER (
            PARTITION BY FLOOR(EVENT_TIME TO MINUTE), TICKER_SYMBOL RANGE INTERVAL '1' MINUTE);
