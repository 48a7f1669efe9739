-- KDA stream-to-stream join (SQL Reference, JOIN clause): orders and trades split from one
-- input into two in-application streams, then each order joined with the trades of its
-- order_id that lie within a minute of it, in either order of arrival. The output ROWTIME is
-- the later of the pair's ROWTIMEs; each pair comes out once, when its later row arrives.
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
    SELECT STREAM ROWTIME, o."order_id", o."ticker", o."price" AS order_price, t."trade_id", t."price" AS trade_price
    FROM "ORDERS" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
    JOIN "TRADES" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS t
    ON o."order_id" = t."order_id";
