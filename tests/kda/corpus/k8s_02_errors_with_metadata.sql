-- stderr lines forwarded with their pod's labels object as JSON text and the app label.
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP,
    "log"      VARCHAR,
    "stream"   VARCHAR,
    "pod_name" VARCHAR MAPPING '$.kubernetes.pod_name',
    "labels"   VARCHAR MAPPING '$.kubernetes.labels',
    "app"      VARCHAR MAPPING '$.kubernetes.labels.app'
) WITH (connector = 'file', path = '$DATA/k8s.json');

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("pod" VARCHAR(16), "app" VARCHAR(8), "labels" VARCHAR(64), "log" VARCHAR(64));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "pod_name", "app", "labels", "log" FROM "SOURCE_SQL_STREAM_001"
    WHERE "stream" = 'stderr' AND "log" LIKE '%500%';
