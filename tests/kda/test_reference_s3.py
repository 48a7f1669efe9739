"""KDA reference data from S3 is read when the run starts, not when the file is parsed: validate
and explain work with no S3 at all, and a run joins the object's rows (moto server)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import boto3

from tests.conftest import run_cli

TICKS = [("AMZN", 120.5), ("WMT", 90.0), ("AMZN", 130.0), ("XTC", 15.25)]


def _pipeline(tmp_path: Path, endpoint: str, header: bool) -> Path:
    ticks = tmp_path / "ticks.json"
    ticks.write_text(
        "".join(
            json.dumps({"arrival_time": f"2024-05-01 10:00:0{i}", "ticker_symbol": t, "price": p}) + "\n"
            for i, (t, p) in enumerate(TICKS)
        )
    )
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" DOUBLE)
    WITH (connector = 'file', path = '{ticks}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE REFERENCE TABLE "CompanyName" ("Ticker" VARCHAR, "Company" VARCHAR)
    WITH (path = 's3://reference/companies.csv', format = 'csv', header = '{str(header).lower()}',
          endpoint_url = '{endpoint}');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (company VARCHAR(20), price DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM c."Company", s."price" FROM "SOURCE_SQL_STREAM_001" AS s
    JOIN "CompanyName" AS c ON s."ticker_symbol" = c."Ticker";
""")
    return pipeline


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_validate_and_explain_read_no_reference_object(tmp_path: Path, aws_env: dict[str, str]) -> None:
    # Nothing listens on this port: any S3 call would fail the command.
    for header in (True, False):
        pipeline = _pipeline(tmp_path, f"http://127.0.0.1:{_closed_port()}", header)
        for command in ("validate", "explain"):
            result = run_cli(command, str(pipeline))
            assert result.code == 0, result.stderr


def test_run_joins_the_reference_object(tmp_path: Path, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="reference")
    for header in (True, False):
        body = ("Ticker,Company\n" if header else "") + "AMZN,Amazon\nWMT,Walmart\n"
        s3.put_object(Bucket="reference", Key="companies.csv", Body=body.encode())
        result = run_cli("run", "--quiet", "--no-checkpoint", str(_pipeline(tmp_path, moto_endpoint, header)))
        assert result.code == 0, result.stderr
        rows = sorted(tuple(json.loads(line).values()) for line in result.stdout.splitlines() if line.strip())
        assert rows == [("Amazon", 120.5), ("Amazon", 130.0), ("Walmart", 90.0)]


def test_a_missing_reference_object_fails_the_run_naming_it(tmp_path: Path, moto_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket="empty-reference")
    pipeline = _pipeline(tmp_path, moto_endpoint, True)
    pipeline.write_text(pipeline.read_text().replace("s3://reference/", "s3://empty-reference/"))
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 2
    assert "reference table 'CompanyName': cannot read s3://empty-reference/companies.csv" in result.stderr
