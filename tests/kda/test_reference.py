"""Reference data joined to a stream: from a local CSV file and from an S3 object (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from tests.conftest import ROOT, run_cli
from tests.kda.helpers import run_example, unordered

EXPECTED = [
    {"TICKER_SYMBOL": "AMZN", "Company": "Amazon", "SECTOR": "TECHNOLOGY", "CHANGE": 1.5, "PRICE": 100.0},
    {"TICKER_SYMBOL": "WMT", "Company": "Walmart", "SECTOR": "RETAIL", "CHANGE": -0.5, "PRICE": 50.0},
    {"TICKER_SYMBOL": "AMZN", "Company": "Amazon", "SECTOR": "TECHNOLOGY", "CHANGE": 2.0, "PRICE": 102.0},
    {"TICKER_SYMBOL": "AMZN", "Company": "Amazon", "SECTOR": "TECHNOLOGY", "CHANGE": -1.0, "PRICE": 101.0},
    {"TICKER_SYMBOL": "WMT", "Company": "Walmart", "SECTOR": "RETAIL", "CHANGE": 0.5, "PRICE": 51.0},
    {"TICKER_SYMBOL": "WMT", "Company": "Walmart", "SECTOR": "RETAIL", "CHANGE": 1.0, "PRICE": 52.0},
    {"TICKER_SYMBOL": "AMZN", "Company": "Amazon", "SECTOR": "TECHNOLOGY", "CHANGE": 0.5, "PRICE": 101.5},
    {"TICKER_SYMBOL": "XTC", "Company": None, "SECTOR": "ENERGY", "CHANGE": -2.0, "PRICE": 20.0},
]


def test_reference_join_from_csv_file(tmp_path: Path) -> None:
    assert unordered(run_example("reference_join", tmp_path)) == unordered(EXPECTED)


def test_reference_join_from_json_object_in_s3(tmp_path: Path, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="kda-reference")
    lines = [{"Ticker": "AMZN", "Company": "Amazon"}, {"Ticker": "WMT", "Company": "Walmart"}]
    s3.put_object(
        Bucket="kda-reference", Key="companies.json", Body="\n".join(json.dumps(line) for line in lines).encode()
    )
    text = (
        (ROOT / "pipelines" / "kda" / "reference_join.sql")
        .read_text()
        .replace(
            "WITH (path = 'pipelines/kda/data/companies.csv', format = 'csv')",
            "WITH (path = 's3://kda-reference/companies.json', format = 'json')",
        )
    )
    pipeline = tmp_path / "reference_s3.sql"
    pipeline.write_text(text)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline), env={"AWS_ENDPOINT_URL": moto_endpoint})
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert unordered(rows) == unordered(EXPECTED)


def test_missing_reference_object_names_the_table(tmp_path: Path, moto_endpoint: str) -> None:
    text = (
        (ROOT / "pipelines" / "kda" / "reference_join.sql")
        .read_text()
        .replace("'pipelines/kda/data/companies.csv'", "'s3://no-such-bucket/companies.csv'")
    )
    pipeline = tmp_path / "reference_missing.sql"
    pipeline.write_text(text)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline), env={"AWS_ENDPOINT_URL": moto_endpoint})
    assert result.code == 2
    assert "reference table 'CompanyName'" in result.stderr and "s3://no-such-bucket" in result.stderr
