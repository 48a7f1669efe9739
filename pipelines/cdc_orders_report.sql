-- CDC demo: a generated Debezium change feed of an orders table (inserts, status and amount
-- updates, deletes, duplicates and bounded reordering) kept as a table in DuckDB, with three
-- reports. No AWS account needed.
--
--   flowsql run pipelines/cdc_orders_report.sql

CREATE TABLE orders (
    order_id BIGINT,
    customer_id VARCHAR,
    region VARCHAR,
    status VARCHAR,
    amount DECIMAL(10, 2),
    updated_at TIMESTAMP,
    PRIMARY KEY (order_id),
    -- changes arrive at most reorder_window / rate = 16 / 50 s behind the newest one
    WATERMARK FOR change_time AS change_time - INTERVAL '1' SECOND
) WITH (connector = 'generator', kind = 'cdc-orders', count = 20000, rate = 50, seed = 7, batch_size = 1000,
        format = 'debezium-json');

CREATE SINK revenue_by_status WITH (connector = 'file', path = 'lake/revenue_by_status', format = 'json');
CREATE SINK open_orders_changes WITH (connector = 'file', path = 'lake/open_orders_changes', format = 'json');
CREATE SINK orders_per_minute WITH (connector = 'file', path = 'lake/orders_per_minute', format = 'json');

-- Revenue and order count per status: a full snapshot every 5 minutes of change time, and a
-- last one at the end of the feed.
INSERT INTO revenue_by_status
SELECT status, count(*) AS orders, sum(amount) AS revenue
FROM orders
GROUP BY status
EMIT EVERY INTERVAL '5' MINUTE;

-- Open (not yet shipped) orders per region, as a changelog: only the regions whose numbers
-- changed, with op = insert / update / delete.
INSERT INTO open_orders_changes
SELECT region, count(*) AS open_orders, sum(amount) AS open_amount
FROM orders
WHERE status IN ('pending', 'paid')
GROUP BY region
EMIT CHANGES;

-- The change events themselves, windowed on their own time: orders created, updated and
-- deleted per minute. Events come as delivered, duplicates included, so distinct positions
-- count each change once.
INSERT INTO orders_per_minute
SELECT window_start, window_end,
       count(DISTINCT change_position) FILTER (WHERE op = 'c') AS created,
       count(DISTINCT change_position) FILTER (WHERE op = 'u') AS updated,
       count(DISTINCT change_position) FILTER (WHERE op = 'd') AS deleted
FROM TUMBLE(orders, change_time, INTERVAL '1' MINUTE)
GROUP BY ALL;
