"""Inputs opened by location: a local path, a file:// URL and an s3:// object (moto server) read
the same bytes; a scheme no opener reads is refused by name."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from flowsql.errors import SourceError
from flowsql.opener import UnsupportedScheme, fetch, opener_for, scheme_of
from tests.conftest import run_cli

BODY = b"Ticker,Company\nAMZN,Amazon\n"


def test_a_local_path_and_a_file_url_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "with space" / "companies.csv"
    path.parent.mkdir()
    path.write_bytes(BODY)
    url = path.as_uri()  # file:///.../with%20space/companies.csv
    for location in (str(path), url, f"file://localhost{path.parent.as_posix()}/companies.csv"):
        opener = opener_for(location)
        assert opener.local_path(location) == path
        with opener.open(location) as source:
            assert source.read() == BODY
    assert scheme_of(str(path)) == scheme_of(url) == "file"


def test_an_s3_object_opens_and_fetches_through_the_moto_server(tmp_path: Path, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="opener-input")
    s3.put_object(Bucket="opener-input", Key="folder/companies.csv", Body=BODY)
    location = "s3://opener-input/folder/companies.csv"
    opener = opener_for(location, moto_endpoint)
    assert opener.local_path(location) is None  # it has to be copied here first
    with opener.open(location) as source:
        assert source.read() == BODY
    target = tmp_path / "copy.csv"
    fetch(location, target, moto_endpoint)
    assert target.read_bytes() == BODY


def test_inputs_that_cannot_be_read_are_named(tmp_path: Path, moto_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket="opener-empty")
    missing = "s3://opener-empty/nothing.csv"
    with pytest.raises(SourceError, match="cannot read s3://opener-empty/nothing.csv: .*NoSuchKey"):
        opener_for(missing, moto_endpoint).open(missing)
    with pytest.raises(SourceError, match=f"cannot read {tmp_path}/absent.csv"):
        opener_for(str(tmp_path / "absent.csv")).open(str(tmp_path / "absent.csv"))


def test_a_scheme_without_an_opener_is_refused_naming_it() -> None:
    with pytest.raises(UnsupportedScheme, match=r"no opener for scheme 'ftp' \(use a local path, file://, s3://\)"):
        opener_for("ftp://example.com/companies.csv")
    with pytest.raises(UnsupportedScheme, match="a file:// URL reads this machine only"):
        opener_for("file://otherhost/data.csv").open("file://otherhost/data.csv")
    with pytest.raises(UnsupportedScheme, match="write s3://bucket/key"):
        opener_for("s3://bucket-only/").open("s3://bucket-only/")


def test_a_reference_table_at_a_file_url_joins_and_a_bad_scheme_fails_validation(tmp_path: Path) -> None:
    companies = tmp_path / "companies.csv"
    companies.write_bytes(BODY + b"WMT,Walmart\n")
    ticks = tmp_path / "ticks.json"
    ticks.write_text(
        '{"arrival_time": "2024-05-01 10:00:00", "ticker_symbol": "AMZN", "price": 1.5}\n'
        '{"arrival_time": "2024-05-01 10:00:01", "ticker_symbol": "WMT", "price": 2.5}\n'
    )
    text = f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" DOUBLE)
    WITH (connector = 'file', path = '{ticks}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE REFERENCE TABLE "CompanyName" ("Ticker" VARCHAR, "Company" VARCHAR)
    WITH (path = '{companies.as_uri()}', format = 'csv');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (company VARCHAR(20), price DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM c."Company", s."price" FROM "SOURCE_SQL_STREAM_001" AS s
    JOIN "CompanyName" AS c ON s."ticker_symbol" = c."Ticker";
"""
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(text)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [
        '{"COMPANY":"Amazon","PRICE":1.5}',
        '{"COMPANY":"Walmart","PRICE":2.5}',
    ]
    pipeline.write_text(text.replace(companies.as_uri(), "gs://bucket/companies.csv"))
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "reference table 'CompanyName'" in result.stderr and "no opener for scheme 'gs'" in result.stderr
