"""Java date patterns read one way for every user: KDA's functions (DuckDB formats), prefixes
(Python formatting) and the catalog's folder regexes agree on each pattern letter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowsql.delivery.prefix import PrefixError, format_java_date
from flowsql.javadate import (
    PREFIX_FIELDS,
    UnsupportedPattern,
    format_date,
    java_to_strftime,
    pattern_regex,
)

WHEN = datetime(2024, 3, 7, 9, 5, 2, 123456)


def duckdb_format(pattern: str, when: datetime) -> str:
    con = duckdb.connect()
    row = con.execute("SELECT strftime(?::TIMESTAMP, ?)", [when, java_to_strftime(pattern)]).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd HH:mm:ss", "2024-03-07 09:05:02"),
        ("yy/M/d H:m:s", "24/3/7 9:5:2"),
        ("dd MMM yyyy hh:mm a", "07 Mar 2024 09:05 AM"),
        ("EEEE, MMMM d", "Thursday, March 7"),
        ("EEE E", "Thu Thu"),
        ("HH:mm:ss.SSS", "09:05:02.123"),
        ("ss.SSSSSS", "02.123456"),
        ("DDD D", "067 067"),
        ("yyyy'T'HH 'o''clock' ''", "2024T09 o'clock '"),
        ("100% yyyy", "100% 2024"),
    ],
)
def test_kda_patterns_become_duckdb_formats(pattern: str, expected: str) -> None:
    assert duckdb_format(pattern, WHEN) == expected


def test_parsing_formats_drop_the_no_padding_flags() -> None:
    assert java_to_strftime("yyyy/M/d H:m:s", parsing=True) == "%Y/%m/%d %H:%M:%S"
    con = duckdb.connect()
    row = con.execute("SELECT strptime('2024/3/7 9:5:2', ?)", [java_to_strftime("yyyy/M/d H:m:s", parsing=True)])
    assert row.fetchone() == (datetime(2024, 3, 7, 9, 5, 2),)


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
    st.lists(st.sampled_from(sorted(PREFIX_FIELDS)), min_size=1, max_size=4),
)
def test_prefix_fields_format_alike_in_python_and_duckdb_and_match_their_regex(
    when: datetime, fields: list[str]
) -> None:
    pattern = "/".join(fields)
    text = format_date(pattern, when)
    assert text == duckdb_format(pattern, when)
    assert re.fullmatch(pattern_regex(pattern), text), (pattern, text)


def test_prefixes_take_only_their_subset_and_say_which() -> None:
    assert format_java_date("yyyy/MM/dd/HH", WHEN.replace(tzinfo=UTC)) == "2024/03/07/09"
    with pytest.raises(PrefixError, match="unsupported date field 'M' in 'yyyy/M': use yyyy, MM, dd, HH, mm, ss"):
        format_java_date("yyyy/M", WHEN)
    with pytest.raises(PrefixError, match='unclosed quote in date pattern "yyyy\'x"'):
        format_java_date("yyyy'x", WHEN)


def test_unknown_letters_and_unclosed_quotes_are_refused_by_name() -> None:
    with pytest.raises(UnsupportedPattern, match="date pattern letters 'QQ' in 'yyyy QQ' are not supported"):
        java_to_strftime("yyyy QQ")
    with pytest.raises(UnsupportedPattern, match="unclosed quote"):
        java_to_strftime("HH 'h")


def test_folder_regex_holds_literals_and_leaves_free_fields_open() -> None:
    assert pattern_regex("yyyy'/x.'MM") == r"\d{4}/x\.\d{2}"
    assert pattern_regex("EEEE") == r"[^/]+"
