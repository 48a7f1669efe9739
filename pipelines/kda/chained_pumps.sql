-- KDA example "In-Application Streams and Pumps": a filter pump feeds an intermediate stream,
-- a second pump aggregates it per minute (pumps chained).
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "INTERMEDIATE_SQL_STREAM" (
    ticker_symbol VARCHAR(4),
    sector        VARCHAR(16),
    price         REAL);

CREATE OR REPLACE PUMP "FILTER_PUMP" AS
    INSERT INTO "INTERMEDIATE_SQL_STREAM"
        SELECT STREAM ticker_symbol, sector, price
        FROM "SOURCE_SQL_STREAM_001"
        WHERE price > 30;

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    sector      VARCHAR(16),
    tick_count  INTEGER,
    avg_price   DOUBLE);

CREATE OR REPLACE PUMP "AGGREGATE_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM sector, COUNT(*), AVG(price)
        FROM "INTERMEDIATE_SQL_STREAM"
        GROUP BY sector, STEP("INTERMEDIATE_SQL_STREAM".ROWTIME BY INTERVAL '1' MINUTE);
