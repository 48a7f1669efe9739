-- A pump whose query is a UNION ALL of SELECT STREAMs: the rows of every branch go into the
-- target stream, each with its own ROWTIME (a tick that is both a big move and cheap comes
-- out twice).
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    tick_time     TIMESTAMP,
    ticker_symbol VARCHAR(4),
    reason        VARCHAR(8),
    price         REAL);

CREATE OR REPLACE PUMP "FLAG_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM ROWTIME, ticker_symbol, 'MOVE', price
        FROM "SOURCE_SQL_STREAM_001"
        WHERE ABS(change) >= 1.0
        UNION ALL
        SELECT STREAM ROWTIME, ticker_symbol, 'CHEAP', price
        FROM "SOURCE_SQL_STREAM_001"
        WHERE price < 60;
