-- KDA stream-to-stream LEFT OUTER JOIN (SQL Reference, JOIN clause, "Time Window on One Side
-- of a LEFT JOIN"): every order of the last minute, with the trades that arrive for it while
-- it is in the window. TRADES has no window, so only a trade arriving after its order pairs.
-- An order no trade came for is emitted once its minute is over, with NULL trade columns and
-- the end of its window (its ROWTIME plus one minute) as ROWTIME.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "kind" VARCHAR,
    "order_id" VARCHAR,
    "trade_id" VARCHAR,
    "ticker" VARCHAR,
    "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/orders_trades.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "ORDERS" ("order_id" VARCHAR(8), "ticker" VARCHAR(4), "price" REAL);
CREATE OR REPLACE PUMP "ORDERS_PUMP" AS INSERT INTO "ORDERS"
    SELECT STREAM "order_id", "ticker", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "kind" = 'order';

CREATE OR REPLACE STREAM "TRADES" ("trade_id" VARCHAR(8), "order_id" VARCHAR(8), "price" REAL);
CREATE OR REPLACE PUMP "TRADES_PUMP" AS INSERT INTO "TRADES"
    SELECT STREAM "trade_id", "order_id", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "kind" = 'trade';

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "pair_time"   TIMESTAMP,
    "order_id"    VARCHAR(8),
    "ticker"      VARCHAR(4),
    "order_price" REAL,
    "trade_id"    VARCHAR(8),
    "trade_price" REAL);

CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ROWTIME, o."order_id", o."ticker", o."price", t."trade_id", t."price"
    FROM "ORDERS" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
    LEFT OUTER JOIN "TRADES" AS t
    ON o."order_id" = t."order_id";
