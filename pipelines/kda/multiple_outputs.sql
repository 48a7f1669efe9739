-- A KDA application with two outputs (the Developer Guide's "Multiple Application Outputs"
-- pattern): every tick goes to one destination, big price moves per ticker and minute to a
-- second, each in-application stream bound to its own sink.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'file', path = 'lake/kda/all_ticks', format = 'json');
CREATE SINK "TRIGGER_COUNT_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), sector VARCHAR(16), change REAL, price REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, sector, change, price
    FROM "SOURCE_SQL_STREAM_001";

CREATE OR REPLACE STREAM "TRIGGER_COUNT_STREAM" (
    ticker_symbol VARCHAR(4),
    trigger_count INTEGER);

CREATE OR REPLACE PUMP "TRIGGER_COUNT_PUMP" AS INSERT INTO "TRIGGER_COUNT_STREAM"
    SELECT STREAM ticker_symbol, COUNT(*) AS trigger_count
    FROM "SOURCE_SQL_STREAM_001"
    WHERE ABS(change) >= 1.0
    GROUP BY ticker_symbol, FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MINUTE);
