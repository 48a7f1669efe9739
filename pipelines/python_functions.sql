-- Python functions in SQL: 200,000 generated clicks, grouped per minute by the site section a
-- Python function reads from the page, with revenue by price band from a vectorised function.
-- No AWS account needed.
--
--   flowsql run pipelines/python_functions.sql

-- Types from the annotations (page: str -> str), called once per row.
CREATE FUNCTION page_section AS 'functions/clicks.py:page_section';
-- Arguments annotated as Arrow arrays: called once per chunk of rows; the types are declared.
CREATE FUNCTION price_bands(DOUBLE) RETURNS BIGINT AS 'functions/clicks.py:price_bands';

CREATE SOURCE clicks (
    event_id BIGINT,
    user_id VARCHAR,
    page VARCHAR,
    event_type VARCHAR,
    country VARCHAR,
    price DOUBLE,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'generator', count = 200000, rate = 1000, seed = 7);

CREATE SINK sections WITH (connector = 'file', path = 'lake/sections', format = 'json', buffer_interval = '10 s');
CREATE SINK console WITH (connector = 'stdout');

-- A 1-minute report per site section.
INSERT INTO sections
SELECT window_start, page_section(page) AS section, count(*) AS views, count(DISTINCT user_id) AS visitors
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
GROUP BY ALL;

-- Purchases per price band and minute on the terminal.
INSERT INTO console
SELECT window_start, price_bands(price) AS band, count(*) AS purchases, round(sum(price), 2) AS revenue
FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
WHERE event_type = 'purchase'
GROUP BY ALL
ORDER BY window_start, band;
