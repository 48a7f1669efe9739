-- KDA SQL Reference, "Windowed Aggregation on Streams": the lowest and highest temperature of
-- the 24 hours before each reading, over all cities, then per city.
CREATE SOURCE "WEATHERSTREAM" (
    arrival_time TIMESTAMP,
    "city" VARCHAR,
    "temp" INTEGER
) WITH (connector = 'file', path = 'pipelines/kda/data/weather.json');

CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');

-- KDA application code, unchanged:
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    reading_time TIMESTAMP,
    city         VARCHAR(16),
    wmin_temp    INTEGER,
    wmax_temp    INTEGER,
    city_min     INTEGER,
    city_max     INTEGER);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ROWTIME,
           CITY,
           MIN(TEMP) OVER W1 AS WMIN_TEMP,
           MAX(TEMP) OVER W1 AS WMAX_TEMP,
           MIN(TEMP) OVER W2,
           MAX(TEMP) OVER W2
    FROM WEATHERSTREAM
    WINDOW W1 AS (RANGE INTERVAL '1' DAY PRECEDING),
           W2 AS (PARTITION BY CITY RANGE INTERVAL '1' DAY PRECEDING);
