"""Prefix expressions: Firehose's validation rules, rendering, and hostile partition values."""

from __future__ import annotations

from datetime import UTC, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowsql.delivery.prefix import (
    EMPTY_PARTITION,
    HIVE_DEFAULT_PARTITION,
    PrefixError,
    format_java_date,
    parse_prefix,
    sanitise_value,
)

WHEN = datetime(2024, 3, 7, 9, 5, 2, 123000, tzinfo=UTC)


def test_timestamp_expressions_follow_java_patterns_in_utc() -> None:
    prefix = parse_prefix("dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/!{timestamp:yyyy'/literal/'mm.ss.SSS}/")
    assert prefix.render(WHEN) == "dt=2024-03-07/hour=09/2024/literal/05.02.123/"
    # A zone-aware time in another zone is rendered in UTC.
    from datetime import timedelta

    tokyo = WHEN.astimezone(timezone(timedelta(hours=9)))
    assert parse_prefix("!{timestamp:yyyy/MM/dd/HH}/").render(tokyo) == "2024/03/07/09/"
    assert format_java_date("yy DDD EEE MMM ''", WHEN) == "24 067 Thu Mar '"


def test_partition_keys_render_hive_folders() -> None:
    prefix = parse_prefix("events/event_type=!{partitionKeyFromQuery:event_type}/country=!{partitionKeyFromQuery:c}/")
    assert prefix.partition_keys == ("event_type", "c")
    assert prefix.hive_keys == ("event_type",)  # 'country=' does not name the key 'c'
    assert prefix.render(WHEN, {"event_type": "view", "c": "DE"}) == "events/event_type=view/country=DE/"


def test_random_string_is_deterministic_per_object() -> None:
    prefix = parse_prefix("x/!{firehose:random-string}/")
    first = prefix.render(WHEN, seed="object-1")
    assert first == prefix.render(WHEN, seed="object-1")
    assert first != prefix.render(WHEN, seed="object-2")
    assert len(first) == len("x/") + 11 + 1


def test_error_output_type_renders_in_the_error_prefix() -> None:
    prefix = parse_prefix("errors/!{firehose:error-output-type}/!{timestamp:yyyy}/", error_prefix=True)
    assert prefix.render(WHEN, error_type="format-conversion-failed") == "errors/format-conversion-failed/2024/"


@pytest.mark.parametrize(
    ("text", "error_prefix", "message"),
    [
        ("!{firehose:error-output-type}/", False, "allowed only in error_output_prefix"),
        ("e/!{partitionKeyFromQuery:x}/!{firehose:error-output-type}/", True, "not allowed in error_output_prefix"),
        ("errors/!{timestamp:yyyy}/", True, "must hold !{firehose:error-output-type}"),
        ("e/!{partitionKeyFromLambda:x}/!{firehose:error-output-type}/", True, "not allowed in error_output_prefix"),
        ("!{shard:id}/", False, "unknown namespace 'shard'"),
        ("!{firehose:uuid}/", False, "unknown expression"),
        ("!{timestamp:yyyy/", False, "malformed expression"),
        ("a/!{timestamp}/", False, "malformed expression"),
        ("!{timestamp:yyyy}}/", False, "malformed expression"),
        ("!{timestamp:}/", False, "needs a value"),
        ("!{timestamp:!{timestamp:yyyy}}/", False, "cannot be nested"),
        ("!{timestamp:yyyy-QQ}/", False, "unsupported date field 'QQ'"),
        ("!{timestamp:'unclosed}/", False, "unclosed quote"),
        ("!{partitionKeyFromQuery:a-b}/", False, "must name a column"),
        ("/absolute/", False, "must not start with '/'"),
        ("a/../b/", False, "'..'"),
        ("a/./b/", False, "'.'"),
        ("a//b/", False, "empty"),
        ("!{timestamp:'..'}/x/", False, "'..'"),
        ("!{timestamp:'/'yyyy}/", False, "must not start with '/'"),
        ("tab\there/", False, "control character"),
        ("x" * 1025, False, "at most 1024 characters"),
    ],
)
def test_prefix_validation(text: str, error_prefix: bool, message: str) -> None:
    with pytest.raises(PrefixError) as caught:
        parse_prefix(text, error_prefix=error_prefix)
    assert message in str(caught.value)


def test_literal_prefixes_pass() -> None:
    assert parse_prefix("raw/").render(WHEN) == "raw/"
    assert parse_prefix("file-start-").render(WHEN) == "file-start-"  # no '/': a file-name start
    assert parse_prefix("errors/", error_prefix=True).render(WHEN, error_type="x") == "errors/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("view", "view"),
        (None, HIVE_DEFAULT_PARTITION),
        ("", EMPTY_PARTITION),
        (" ", " "),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        (".flowsql-staging", "%2Eflowsql-staging"),  # readers skip folders starting with '.' or '_'
        ("_tmp", "%5Ftmp"),
        (HIVE_DEFAULT_PARTITION, "%5F_HIVE_DEFAULT_PARTITION__"),  # the text, not NULL
        (EMPTY_PARTITION, "%5F_EMPTY_STRING__"),
        ("a/b", "a%2Fb"),
        ("back\\slash", "back%5Cslash"),
        ("line\nbreak\x00nul\x7f", "line%0Abreak%00nul%7F"),
        ("50%", "50%25"),
        ("k=v", "k%3Dv"),
        ("é", "%C3%A9"),
        (42, "42"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
    ],
)
def test_hostile_partition_values_are_escaped(value: object, expected: str) -> None:
    assert sanitise_value(value) == expected


def test_long_values_are_cut_with_a_digest_that_keeps_them_apart() -> None:
    first, second = sanitise_value("a" * 500 + "1"), sanitise_value("a" * 500 + "2")
    assert len(first) == 200 and len(second) == 200 and first != second


@given(st.one_of(st.none(), st.text(), st.integers()))
def test_no_value_can_escape_its_folder(value: object) -> None:
    segment = sanitise_value(value)
    assert segment and "/" not in segment and "\\" not in segment
    assert segment not in (".", "..")
    assert all(32 <= ord(c) < 127 for c in segment)
    assert len(segment) <= 200
    key = parse_prefix("t/k=!{partitionKeyFromQuery:k}/").render(WHEN, {"k": value}) + "object"
    assert key.split("/")[:2] == ["t", f"k={segment}"] and len(key.split("/")) == 3


def test_sanitised_values_stay_distinct() -> None:
    values = [
        "a/b",
        "a%2Fb",
        "a b",
        "a+b",
        "",
        " ",
        None,
        "..",
        "%2E%2E",
        HIVE_DEFAULT_PARTITION,
        EMPTY_PARTITION,
        "_x",
        "%5Fx",
        ".x",
        "%2Ex",
    ]
    assert len({sanitise_value(v) for v in values}) == len(values)


@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=2, max_size=2, unique=True))
def test_distinct_values_never_share_a_folder(values: list[str | None]) -> None:
    assert sanitise_value(values[0]) != sanitise_value(values[1])


def test_a_prefix_cannot_write_into_the_staging_folder() -> None:
    with pytest.raises(PrefixError, match="flowsql-staging"):
        parse_prefix(".flowsql-staging/x/")
