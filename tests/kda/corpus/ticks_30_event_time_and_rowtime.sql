-- Grouped by event time and by ROWTIME together, the pattern the Developer Guide gives for
-- late data: a group is emitted when its ROWTIME minute closes.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "event_time" TIMESTAMP, "ticker_symbol" VARCHAR, "price" DOUBLE
) WITH (connector = 'file', path = '$DATA/ticks.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (event_minute TIMESTAMP, ticker_symbol VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM STEP(event_time BY INTERVAL '1' MINUTE), ticker_symbol, COUNT(*)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY ticker_symbol, STEP(event_time BY INTERVAL '1' MINUTE),
             STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
