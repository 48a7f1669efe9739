-- KDA SQL Reference, VARIABLE_COLUMN_LOG_PARSE: typed columns, a timestamp format, a
-- backslash escape and double quotes that hide the delimiter; and the count form, whose
-- fields are COLUMN1, COLUMN2, ... read straight off the call.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "message" VARCHAR
) WITH (connector = 'file', path = 'pipelines/kda/data/orders_csv.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    order_id    INTEGER,
    customer    VARCHAR(32),
    ordered_at  TIMESTAMP,
    amount      DECIMAL(8,2),
    note        VARCHAR(64),
    raw_second  VARCHAR(32));

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM t.r.ORDER_ID, t.r.CUSTOMER, t.r.ORDERED_AT, t.r.AMOUNT, t.r.NOTE,
                  (VARIABLE_COLUMN_LOG_PARSE(t."message", 2, ',')).COLUMN2
    FROM (SELECT STREAM "message",
                 VARIABLE_COLUMN_LOG_PARSE("message",
                     'ORDER_ID TYPE INTEGER NOT NULL, CUSTOMER TYPE VARCHAR(32),
                      ORDERED_AT TYPE TIMESTAMP ''dd/MMM/yyyy:HH:mm:ss'', AMOUNT TYPE DECIMAL(8,2),
                      NOTE TYPE VARCHAR(64)',
                     ',', '\', '"') AS r
          FROM "SOURCE_SQL_STREAM_001") AS t;
