-- KDA example "Tumbling Windows" (Developer Guide): min and max price per ticker per minute, with ROWTIME.
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
    window_time   TIMESTAMP,
    ticker_symbol VARCHAR(4),
    min_price     REAL,
    max_price     REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
    INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM ROWTIME,
                      Ticker_Symbol,
                      MIN(Price) AS Price,
                      MAX(Price) AS Price
        FROM "SOURCE_SQL_STREAM_001"
        GROUP BY Ticker_Symbol,
                 FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MINUTE);
