-- Two pumps fill one in-application stream; a third counts it per minute.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "FLAGGED" (ticker_symbol VARCHAR(4), reason VARCHAR(8));
CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "FLAGGED"
    SELECT STREAM ticker_symbol, 'UP' FROM "SOURCE_SQL_STREAM_001" WHERE change > 1;
CREATE OR REPLACE PUMP "DOWN_PUMP" AS INSERT INTO "FLAGGED"
    SELECT STREAM ticker_symbol, 'DOWN' FROM "SOURCE_SQL_STREAM_001" WHERE change < -1;
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), reason VARCHAR(8), n INTEGER);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, reason, COUNT(*) FROM "FLAGGED"
    GROUP BY ticker_symbol, reason, STEP("FLAGGED".ROWTIME BY INTERVAL '2' MINUTE);
