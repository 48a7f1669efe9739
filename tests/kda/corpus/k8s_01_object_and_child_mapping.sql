-- Container logs: the kubernetes object mapped whole and its namespace mapped on its own.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "log"            VARCHAR,
    "kubernetes"     VARCHAR MAPPING '$.kubernetes',
    "namespace_name" VARCHAR MAPPING '$.kubernetes.namespace_name'
) WITH (connector = 'file', path = '$DATA/k8s.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("namespace" VARCHAR(16), "lines" INTEGER, "with_metadata" INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM COALESCE("namespace_name", '-'), COUNT(*), COUNT("kubernetes")
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY COALESCE("namespace_name", '-'), STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
