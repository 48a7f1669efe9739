-- KDA SQL Reference, COUNT_DISTINCT_ITEMS_TUMBLING example: distinct tickers per minute.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "ticker_symbol" VARCHAR,
    "sector" VARCHAR,
    "change" REAL,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM DESTINATION_SQL_STREAM (
  NUMBER_OF_DISTINCT_ITEMS BIGINT);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
   SELECT STREAM *
   FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(
       CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"),
       'ticker_symbol',
       60
     )
);
