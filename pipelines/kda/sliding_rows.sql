-- KDA example "Sliding Windows" with a row count: price change over the last three ticks of each ticker.
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
    ticker_symbol VARCHAR(4),
    price         DOUBLE,
    max_price     DOUBLE,
    change_sum    DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM ticker_symbol, price,
                      MAX(price) OVER (PARTITION BY ticker_symbol ROWS 2 PRECEDING),
                      SUM(change) OVER (PARTITION BY ticker_symbol ROWS 2 PRECEDING)
        FROM "SOURCE_SQL_STREAM_001";
