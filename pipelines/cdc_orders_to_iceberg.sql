-- CDC into Apache Iceberg: a generated Debezium change feed of an orders table (inserts, status
-- and amount updates, deletes, duplicates and bounded reordering) mirrored into the Iceberg table
-- shop.orders by its primary key (upserts and deletes), and open orders per region kept as a
-- second keyed table. Embedded catalog under lake/; no AWS account, no network.
--
--   flowsql run pipelines/cdc_orders_to_iceberg.sql

CREATE TABLE orders (
    order_id BIGINT,
    customer_id VARCHAR,
    region VARCHAR,
    status VARCHAR,
    amount DECIMAL(10, 2),
    updated_at TIMESTAMP,
    PRIMARY KEY (order_id)
) WITH (connector = 'generator', kind = 'cdc-orders', count = 20000, rate = 50, seed = 7, batch_size = 1000,
        format = 'debezium-json');

-- The orders as they are now: each changed order upserted, each deleted order deleted.
CREATE SINK orders_mirror WITH (
    connector = 'iceberg',
    table = 'shop.orders',
    warehouse = 'lake/',
    primary_key = 'order_id',
    partition_by = 'region',
    buffer_interval = '10 s'
);

-- Open (not yet shipped) orders per region: a region with none left is deleted.
CREATE SINK open_by_region WITH (
    connector = 'iceberg',
    table = 'shop.open_orders_by_region',
    warehouse = 'lake/',
    primary_key = 'region',
    buffer_interval = '10 s'
);

INSERT INTO orders_mirror
SELECT order_id, customer_id, region, status, amount, updated_at
FROM orders
EMIT CHANGES;

INSERT INTO open_by_region
SELECT region, count(*) AS open_orders, sum(amount) AS open_amount
FROM orders
WHERE status IN ('pending', 'paid')
GROUP BY region
EMIT CHANGES;
