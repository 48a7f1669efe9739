"""`${VAR}` in option values: read from the environment when the pipeline loads."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flowsql.errors import ConfigError
from flowsql.options import Option, bind_options, duration


@dataclass(frozen=True)
class Example:
    bucket: str = ""
    retry_duration: float = duration(1.0)


def test_environment_references_expand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_BUCKET", "prod-lake")
    monkeypatch.setenv("RETRY", "2 min")
    options = bind_options(Example, [Option("bucket", "${LAKE_BUCKET}-eu"), Option("retry_duration", "${RETRY}")], "x")
    assert options == Example("prod-lake-eu", 120.0)
    assert bind_options(Example, [Option("bucket", "cost$${NOT_A_VAR}")], "x").bucket == "cost${NOT_A_VAR}"
    monkeypatch.delenv("UNSET_BUCKET", raising=False)
    assert bind_options(Example, [Option("bucket", "${UNSET_BUCKET:-dev-lake}")], "x").bucket == "dev-lake"
    assert bind_options(Example, [Option("bucket", "${LAKE_BUCKET:-dev-lake}")], "x").bucket == "prod-lake"
    assert bind_options(Example, [Option("bucket", "${UNSET_BUCKET:-}")], "x").bucket == ""


def test_a_missing_variable_names_the_option_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_BUCKET", raising=False)
    with pytest.raises(ConfigError) as caught:
        bind_options(Example, [Option("bucket", "${NO_SUCH_BUCKET}")], "sink 'lake' (s3)")
    assert "option 'bucket'" in str(caught.value) and "NO_SUCH_BUCKET is not set" in str(caught.value)
