-- KDA pattern "several pumps into one in-application stream": two filter pumps flag ticks for
-- different reasons into FLAGGED_TICKS, a third pump counts the flags per ticker per minute.
-- A tick both pumps flag is in FLAGGED_TICKS twice, as in KDA.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "FLAGGED_TICKS" (
    ticker_symbol VARCHAR(4),
    reason        VARCHAR(8),
    price         REAL);

CREATE OR REPLACE PUMP "BIG_MOVE_PUMP" AS
    INSERT INTO "FLAGGED_TICKS"
        SELECT STREAM ticker_symbol, 'MOVE', price
        FROM "SOURCE_SQL_STREAM_001"
        WHERE ABS(change) >= 1.0;

CREATE OR REPLACE PUMP "CHEAP_PUMP" AS
    INSERT INTO "FLAGGED_TICKS"
        SELECT STREAM ticker_symbol, 'CHEAP', price
        FROM "SOURCE_SQL_STREAM_001"
        WHERE price < 60;

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4),
    flag_count    INTEGER,
    max_price     REAL);

CREATE OR REPLACE PUMP "COUNT_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM ticker_symbol, COUNT(*), MAX(price)
        FROM "FLAGGED_TICKS"
        GROUP BY ticker_symbol, STEP("FLAGGED_TICKS".ROWTIME BY INTERVAL '1' MINUTE);
