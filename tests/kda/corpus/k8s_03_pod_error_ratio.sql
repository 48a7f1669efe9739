-- Errors per pod per two minutes from container logs, the pod name taken from a JSON path.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "log"      VARCHAR,
    "pod_name" VARCHAR MAPPING '$.kubernetes.pod_name'
) WITH (connector = 'file', path = '$DATA/k8s.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("pod" VARCHAR(16), "errors" INTEGER, "lines" INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "pod_name",
                  SUM(CASE WHEN "log" SIMILAR TO '%(500|timeout)%' THEN 1 ELSE 0 END), COUNT(*)
    FROM "SOURCE_SQL_STREAM_001"
    WHERE "pod_name" IS NOT NULL
    GROUP BY "pod_name", STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' MINUTE);
