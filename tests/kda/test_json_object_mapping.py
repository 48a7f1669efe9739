"""An input mapping that maps a JSON object and a value inside it at once (`$.kubernetes` and
`$.kubernetes.namespace_name`), as KDA allows: the object column holds the object's JSON text."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.conftest import run_cli

LOGS = [
    {
        "log": "started",
        "kubernetes": {
            "namespace_name": "prod",
            "pod": {"name": "web-1", "restarts": 2},
            "at": "2024-05-01T12:00:00+02:00",
        },
    },
    {"log": "no pod", "kubernetes": {"namespace_name": "dev"}},
    {"log": "null object", "kubernetes": None},
    {"log": "no object"},
    {"log": "number as text", "kubernetes": {"namespace_name": 7, "pod": {"restarts": "3"}}},
]


def _pipeline(tmp_path: Path) -> Path:
    data = tmp_path / "logs.json"
    data.write_text("".join(json.dumps(row) + "\n" for row in LOGS))
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    "log"            VARCHAR,
    "kubernetes"     VARCHAR   MAPPING '$.kubernetes',
    "namespace_name" VARCHAR   MAPPING '$.kubernetes.namespace_name',
    "pod"            VARCHAR   MAPPING '$.kubernetes.pod',
    "pod_name"       VARCHAR   MAPPING '$.kubernetes.pod.name',
    "restarts"       INTEGER   MAPPING '$.kubernetes.pod.restarts',
    "at"             TIMESTAMP MAPPING '$.kubernetes.at'
) WITH (connector = 'file', path = '{data}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    log VARCHAR(32), k8s VARCHAR(256), ns VARCHAR(16), pod VARCHAR(64), pod_name VARCHAR(16),
    restarts INTEGER, at TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "log", "kubernetes", "namespace_name", "pod", "pod_name", "restarts", "at"
    FROM "SOURCE_SQL_STREAM_001";
""")
    return pipeline


def test_an_object_and_its_children_are_mapped_at_once(tmp_path: Path) -> None:
    result = run_cli("run", "--quiet", "--no-checkpoint", str(_pipeline(tmp_path)))
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_log = {row["LOG"]: row for row in rows}
    assert len(rows) == len(LOGS)
    first = by_log["started"]
    assert json.loads(first["K8S"]) == LOGS[0]["kubernetes"]
    assert json.loads(first["POD"]) == {"name": "web-1", "restarts": 2}
    assert (first["NS"], first["POD_NAME"], first["RESTARTS"]) == ("prod", "web-1", 2)
    assert first["AT"] == "2024-05-01 10:00:00"  # the offset applied: UTC
    assert json.loads(by_log["no pod"]["K8S"]) == {"namespace_name": "dev"}
    assert (by_log["no pod"]["NS"], by_log["no pod"]["POD"], by_log["no pod"]["RESTARTS"]) == ("dev", None, None)
    for log in ("null object", "no object"):
        assert [by_log[log][key] for key in ("K8S", "NS", "POD", "POD_NAME", "RESTARTS", "AT")] == [None] * 6
    assert (by_log["number as text"]["NS"], by_log["number as text"]["RESTARTS"]) == ("7", 3)


def test_a_child_value_that_does_not_fit_its_column_goes_to_the_error_output(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    with (tmp_path / "logs.json").open("a") as out:
        out.write(json.dumps({"log": "bad", "kubernetes": {"pod": {"restarts": "many"}}}) + "\n")
    out_dir = tmp_path / "out"
    pipeline.write_text(
        pipeline.read_text().replace(
            "WITH (connector = 'stdout', format = 'json')",
            f"WITH (connector = 'file', path = '{out_dir}', format = 'json', buffer_interval = '0 s')",
        )
    )
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    files = sorted(out_dir.rglob("*.json"))
    rows = [json.loads(line) for f in files if "errors" not in f.parts for line in f.read_text().splitlines()]
    errors = [json.loads(line) for f in files if "errors" in f.parts for line in f.read_text().splitlines()]
    assert sorted(row["LOG"] for row in rows) == sorted(row["log"] for row in LOGS)
    assert len(errors) == 1
    assert json.loads(base64.b64decode(errors[0]["rawData"]))["log"] == "bad"
    assert "many" in errors[0]["errorMessage"]
