-- KDA pattern "an application output that further pumps read": every technology tick goes to
-- DESTINATION_SQL_STREAM, and two more pumps read that output: one sums it per minute into
-- SUMMARY_STREAM, one flags its ticks above 101.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE SINK "SUMMARY_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4),
    price         REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM ticker_symbol, price
        FROM "SOURCE_SQL_STREAM_001"
        WHERE sector = 'TECHNOLOGY';

CREATE OR REPLACE STREAM "SUMMARY_STREAM" (
    summary_ticker VARCHAR(4),
    tick_count     INTEGER,
    total          REAL);

CREATE OR REPLACE PUMP "SUMMARY_PUMP" AS
    INSERT INTO "SUMMARY_STREAM"
        SELECT STREAM ticker_symbol, COUNT(*), SUM(price)
        FROM "DESTINATION_SQL_STREAM"
        GROUP BY ticker_symbol, STEP("DESTINATION_SQL_STREAM".ROWTIME BY INTERVAL '1' MINUTE);

CREATE OR REPLACE PUMP "HIGH_PUMP" AS
    INSERT INTO "SUMMARY_STREAM"
        SELECT STREAM 'HIGH', 1, price
        FROM "DESTINATION_SQL_STREAM"
        WHERE price > 101;
