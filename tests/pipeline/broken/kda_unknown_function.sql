CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" REAL)
WITH (connector = 'file', path = 'data/events.ndjson');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), avg_price DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, NO_SUCH_FUNCTION(price) FROM "SOURCE_SQL_STREAM_001";

-- expect exit 2
-- error: 6:30 function NO_SUCH_FUNCTION is not supported by flowsql's KDA front end
-- hint: see docs/kda-migration.md for the supported functions
