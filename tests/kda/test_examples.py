"""The KDA documentation's example applications in pipelines/kda/, run through the CLI on
their sample input; expected rows are worked out by hand from pipelines/kda/data/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kda.helpers import rounded, run_example, unordered


def test_tumbling_count_per_ticker_per_minute(tmp_path: Path) -> None:
    rows = run_example("tumbling_count", tmp_path)
    # 10:00 window: AMZN x3, WMT x1; 10:01: WMT x2, AMZN x1; 10:02: XTC x1.
    assert unordered(rows) == unordered(
        [
            {"TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 3},
            {"TICKER_SYMBOL": "WMT", "TICKER_COUNT": 1},
            {"TICKER_SYMBOL": "WMT", "TICKER_COUNT": 2},
            {"TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 1},
            {"TICKER_SYMBOL": "XTC", "TICKER_COUNT": 1},
        ]
    )


def test_a_csv_input_maps_columns_by_position(tmp_path: Path) -> None:
    rows = run_example("csv_input", tmp_path)
    assert unordered(rows) == unordered(
        [
            {"TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 3},
            {"TICKER_SYMBOL": "WMT", "TICKER_COUNT": 1},
            {"TICKER_SYMBOL": "WMT", "TICKER_COUNT": 2},
            {"TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 1},
            {"TICKER_SYMBOL": "XTC", "TICKER_COUNT": 1},
        ]
    )


def test_tumbling_windows_close_in_order_across_batches(tmp_path: Path) -> None:
    rows = run_example("tumbling_count", tmp_path, chunk_size=150)
    assert [r["TICKER_SYMBOL"] for r in rows][-1] == "XTC"
    assert sorted(r["TICKER_COUNT"] for r in rows) == [1, 1, 1, 2, 3]


def test_tumbling_floor_rowtime_is_the_window_end(tmp_path: Path) -> None:
    rows = run_example("tumbling_floor", tmp_path)
    assert unordered(rows) == unordered(
        [
            {"WINDOW_TIME": "2024-05-01 10:01:00", "TICKER_SYMBOL": "AMZN", "MIN_PRICE": 100.0, "MAX_PRICE": 102.0},
            {"WINDOW_TIME": "2024-05-01 10:01:00", "TICKER_SYMBOL": "WMT", "MIN_PRICE": 50.0, "MAX_PRICE": 50.0},
            {"WINDOW_TIME": "2024-05-01 10:02:00", "TICKER_SYMBOL": "WMT", "MIN_PRICE": 51.0, "MAX_PRICE": 52.0},
            {"WINDOW_TIME": "2024-05-01 10:02:00", "TICKER_SYMBOL": "AMZN", "MIN_PRICE": 101.5, "MAX_PRICE": 101.5},
            {"WINDOW_TIME": "2024-05-01 10:03:00", "TICKER_SYMBOL": "XTC", "MIN_PRICE": 20.0, "MAX_PRICE": 20.0},
        ]
    )


def test_getting_started_filter_similar_to(tmp_path: Path) -> None:
    rows = run_example("getting_started_filter", tmp_path)
    assert rows == [
        {"TICKER_SYMBOL": "AMZN", "SECTOR": "TECHNOLOGY", "CHANGE": 1.5, "PRICE": 100.0},
        {"TICKER_SYMBOL": "AMZN", "SECTOR": "TECHNOLOGY", "CHANGE": 2.0, "PRICE": 102.0},
        {"TICKER_SYMBOL": "AMZN", "SECTOR": "TECHNOLOGY", "CHANGE": -1.0, "PRICE": 101.0},
        {"TICKER_SYMBOL": "AMZN", "SECTOR": "TECHNOLOGY", "CHANGE": 0.5, "PRICE": 101.5},
    ]


def test_chained_pumps_filter_then_aggregate(tmp_path: Path) -> None:
    rows = run_example("chained_pumps", tmp_path)
    # XTC (price 20) is filtered out by the first pump.
    assert unordered(rows) == unordered(
        [
            {"SECTOR": "TECHNOLOGY", "TICK_COUNT": 3, "AVG_PRICE": 101.0},
            {"SECTOR": "RETAIL", "TICK_COUNT": 1, "AVG_PRICE": 50.0},
            {"SECTOR": "RETAIL", "TICK_COUNT": 2, "AVG_PRICE": 51.5},
            {"SECTOR": "TECHNOLOGY", "TICK_COUNT": 1, "AVG_PRICE": 101.5},
        ]
    )


SLIDING_AVERAGE = [
    {"TICKER_SYMBOL": "AMZN", "AVG_PRICE": 100.0},
    {"TICKER_SYMBOL": "WMT", "AVG_PRICE": 50.0},
    {"TICKER_SYMBOL": "AMZN", "AVG_PRICE": 101.0},
    {"TICKER_SYMBOL": "AMZN", "AVG_PRICE": 101.0},
    {"TICKER_SYMBOL": "WMT", "AVG_PRICE": 50.5},  # 10:00:20 is exactly one minute before 10:01:00
    {"TICKER_SYMBOL": "WMT", "AVG_PRICE": 51.5},  # 10:00:20 has left the minute
    {"TICKER_SYMBOL": "AMZN", "AVG_PRICE": 101.25},  # 101 (10:00:59) and 101.5
    {"TICKER_SYMBOL": "XTC", "AVG_PRICE": 20.0},
]


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_sliding_range_one_row_per_input_row(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("sliding_average", tmp_path, chunk_size)
    assert rounded(rows) == SLIDING_AVERAGE


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_sliding_rows_preceding(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("sliding_rows", tmp_path, chunk_size)
    assert rounded(rows) == [
        {"TICKER_SYMBOL": "AMZN", "PRICE": 100.0, "MAX_PRICE": 100.0, "CHANGE_SUM": 1.5},
        {"TICKER_SYMBOL": "WMT", "PRICE": 50.0, "MAX_PRICE": 50.0, "CHANGE_SUM": -0.5},
        {"TICKER_SYMBOL": "AMZN", "PRICE": 102.0, "MAX_PRICE": 102.0, "CHANGE_SUM": 3.5},
        {"TICKER_SYMBOL": "AMZN", "PRICE": 101.0, "MAX_PRICE": 102.0, "CHANGE_SUM": 2.5},
        {"TICKER_SYMBOL": "WMT", "PRICE": 51.0, "MAX_PRICE": 51.0, "CHANGE_SUM": 0.0},
        {"TICKER_SYMBOL": "WMT", "PRICE": 52.0, "MAX_PRICE": 52.0, "CHANGE_SUM": 1.0},
        {"TICKER_SYMBOL": "AMZN", "PRICE": 101.5, "MAX_PRICE": 102.0, "CHANGE_SUM": 1.5},
        {"TICKER_SYMBOL": "XTC", "PRICE": 20.0, "MAX_PRICE": 20.0, "CHANGE_SUM": -2.0},
    ]


def test_event_time_and_rowtime_steps(tmp_path: Path) -> None:
    rows = run_example("event_time_step", tmp_path)
    # Groups are (arrival minute, event minute, ticker): the AMZN event of 10:00:55 arrives in
    # the 10:01 arrival minute, so its event minute 10:00 gets a second row, as in KDA.
    assert unordered(rows) == unordered(
        [
            {"EVENT_TIME": "2024-05-01 09:59:00", "TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 1},
            {"EVENT_TIME": "2024-05-01 10:00:00", "TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 2},
            {"EVENT_TIME": "2024-05-01 10:00:00", "TICKER_SYMBOL": "WMT", "TICKER_COUNT": 1},
            {"EVENT_TIME": "2024-05-01 10:00:00", "TICKER_SYMBOL": "AMZN", "TICKER_COUNT": 1},
            {"EVENT_TIME": "2024-05-01 10:01:00", "TICKER_SYMBOL": "WMT", "TICKER_COUNT": 1},
        ]
    )


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_event_time_window_with_watermark(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("event_time_watermark", tmp_path, chunk_size)
    assert unordered(rows) == unordered(
        [
            {"WINDOW_START": "2024-05-01 09:59:00", "TICKER_SYMBOL": "AMZN", "AVG_PRICE": 100.0, "TICKER_COUNT": 1},
            {"WINDOW_START": "2024-05-01 10:00:00", "TICKER_SYMBOL": "AMZN", "AVG_PRICE": 102.0, "TICKER_COUNT": 3},
            {"WINDOW_START": "2024-05-01 10:00:00", "TICKER_SYMBOL": "WMT", "AVG_PRICE": 50.0, "TICKER_COUNT": 1},
            {"WINDOW_START": "2024-05-01 10:01:00", "TICKER_SYMBOL": "WMT", "AVG_PRICE": 51.0, "TICKER_COUNT": 1},
        ]
    )


def test_string_functions(tmp_path: Path) -> None:
    rows = run_example("string_functions", tmp_path)
    assert [r["domain"] for r in rows] == ["amazon", "example", ".kinesi"]  # https shifts KDA's fixed 12
    assert [r["USER_UPPER"] for r in rows] == ["ALICE", "BOB", "CAROL"]
    assert [r["NAME_LENGTH"] for r in rows] == [5, 3, 5]
    assert [r["GREETING"] for r in rows] == ["hello alice", "hello bob", "hello carol"]
    assert [r["ingest_time"] for r in rows] == ["2024-05-01 10:00:01", "2024-05-01 10:00:02", "2024-05-01 10:00:03"]


def test_datetime_functions(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    rows = run_example("datetime_functions", tmp_path)
    first = rows[0]
    assert first["SENT_TIME"] == "2024-05-01 09:59:58.25"
    assert first["SENT_TEXT"] == "01/05/2024 09:59:58 AM"
    assert first["DELAY_MS"] == 2750  # ROWTIME 10:00:01 minus 09:59:58.250
    assert first["SENT_MINUTE"] == "2024-05-01 09:59:00"
    assert first["NEXT_MINUTE"] == "2024-05-01 10:00:00"
    sent = datetime(2024, 5, 1, 9, 59, 58, 250000, tzinfo=UTC)
    assert first["SENT_EPOCH_MS"] == int(sent.timestamp() * 1000)
    assert [r["BYTES_BUCKET"] for r in rows] == [20, 0, 40]
    assert [r["DELAY_MS"] for r in rows] == [2750, 1000, 100]
    # CEIL of a time already on the minute stays on it.
    assert rows[1]["NEXT_MINUTE"] == "2024-05-01 10:01:00"


def test_regex_log_parse(tmp_path: Path) -> None:
    rows = run_example("regex_log_parse", tmp_path)
    # Only ENERGY has an 'E' followed later by an 'R'; other sectors give NULL, as in KDA.
    assert rows[-1] == {"MATCH1": "EN", "MATCH2": "RGY"}
    assert all(r == {"MATCH1": None, "MATCH2": None} for r in rows[:-1])
    assert len(rows) == 8


def test_top_k_items_tumbling(tmp_path: Path) -> None:
    rows = run_example("top_k_items", tmp_path)
    # K = 2 per minute, most frequent first.
    assert rows == [
        {"TICKER_SYMBOL": "AMZN", "MOST_FREQUENT_VALUES": 3},
        {"TICKER_SYMBOL": "WMT", "MOST_FREQUENT_VALUES": 1},
        {"TICKER_SYMBOL": "WMT", "MOST_FREQUENT_VALUES": 2},
        {"TICKER_SYMBOL": "AMZN", "MOST_FREQUENT_VALUES": 1},
        {"TICKER_SYMBOL": "XTC", "MOST_FREQUENT_VALUES": 1},
    ]


def test_count_distinct_items_tumbling(tmp_path: Path) -> None:
    rows = run_example("count_distinct_items", tmp_path)
    assert rows == [{"NUMBER_OF_DISTINCT_ITEMS": 2}, {"NUMBER_OF_DISTINCT_ITEMS": 2}, {"NUMBER_OF_DISTINCT_ITEMS": 1}]


def _weather_expected() -> list[dict[str, object]]:
    """Each reading against the readings that arrived before it (and itself) in the day up to
    it: worked out directly from the sample file, as the KDA reference describes."""
    import json
    from datetime import datetime, timedelta

    from tests.kda.helpers import EXAMPLES

    readings = [json.loads(line) for line in (EXAMPLES / "data" / "weather.json").read_text().splitlines()]
    out = []
    for index, row in enumerate(readings):
        now = datetime.fromisoformat(row["arrival_time"])
        seen = [
            r for r in readings[: index + 1] if datetime.fromisoformat(r["arrival_time"]) >= now - timedelta(days=1)
        ]
        city = [r["temp"] for r in seen if r["city"] == row["city"]]
        out.append(
            {
                "READING_TIME": row["arrival_time"],
                "CITY": row["city"],
                "WMIN_TEMP": min(r["temp"] for r in seen),
                "WMAX_TEMP": max(r["temp"] for r in seen),
                "CITY_MIN": min(city),
                "CITY_MAX": max(city),
            }
        )
    return out


@pytest.mark.parametrize("chunk_size", [None, 200])
def test_weather_sliding_min_max_over_a_day(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("weather_sliding_min_max", tmp_path, chunk_size)
    expected = _weather_expected()
    # The reference's own first rows: the second reading at 01:00 sees the first, not the reverse.
    assert expected[0]["WMAX_TEMP"] == 29 and expected[1]["WMIN_TEMP"] == 2 and expected[2]["WMAX_TEMP"] == 65
    assert rows == expected


def test_nested_json_mapping(tmp_path: Path) -> None:
    rows = run_example("nested_json_mapping", tmp_path)
    # o-4 has a null customer object: its region is NULL, not an error.
    assert unordered(rows) == unordered(
        [
            {"REGION": "EU", "ORDERS": 2, "REVENUE": 37.5},
            {"REGION": "US", "ORDERS": 1, "REVENUE": 12.5},
            {"REGION": "UNKNOWN", "ORDERS": 1, "REVENUE": 5.0},
            {"REGION": "US", "ORDERS": 1, "REVENUE": 20.0},
        ]
    )


@pytest.mark.parametrize("chunk_size", [None, 140])
def test_stagger_window(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("stagger_window", tmp_path, chunk_size)
    # (10:00, ABC) opens at 10:00:20 and closes at 10:01:20 with three trades, the third one
    # of event minute 10:00 arriving at 10:01:05; the trade arriving at 10:01:25 for the same
    # key opens a new window. Windows are emitted in the order they close.
    assert rows == [
        {"EVENT_TIME": "2024-05-01 10:00:00", "TICKER_SYMBOL": "ABC", "TICKER_COUNT": 3},
        {"EVENT_TIME": "2024-05-01 10:01:00", "TICKER_SYMBOL": "ABC", "TICKER_COUNT": 1},
        {"EVENT_TIME": "2024-05-01 10:00:00", "TICKER_SYMBOL": "ABC", "TICKER_COUNT": 1},
        {"EVENT_TIME": "2024-05-01 10:01:00", "TICKER_SYMBOL": "XYZ", "TICKER_COUNT": 1},
    ]


def test_w3c_and_fast_regex_log_parse(tmp_path: Path) -> None:
    rows = run_example("log_parsing", tmp_path)
    assert rows[0] == {
        "HOST": "127.0.0.1",
        "REQUEST": "GET /apache_pb.gif HTTP/1.0",
        "STATUS": "200",
        "REFERRER": "http://www.example.com/start.html",
        "AGENT": "Mozilla/4.08 [en] (Win98; I ;Nav)",
        "METHOD": "GET",
        "PATH": "/apache_pb.gif",
    }
    assert rows[1] == {
        "HOST": "10.0.0.7",
        "REQUEST": "POST /login HTTP/1.1",
        "STATUS": "302",
        "REFERRER": "-",
        "AGENT": "curl/8.0",
        "METHOD": "POST",
        "PATH": "/login",
    }
    # A line in no log format gives NULL columns, not an error.
    assert set(rows[2].values()) == {None}


def test_fast_regex_is_lazy() -> None:
    import duckdb
    from sqlglot import exp, parse_one

    from flowsql.kda.functions import rewrite_functions

    def parsed(function: str) -> str | None:
        query = parse_one(f"SELECT {function}('a=1;b=2;c=3', '(.*)=(.*)').COLUMN1", read="duckdb")
        assert isinstance(query, exp.Select)
        with duckdb.connect() as con:
            return con.execute(rewrite_functions(query).sql("duckdb")).fetchall()[0][0]  # type: ignore[no-any-return]

    assert parsed("FAST_REGEX_LOG_PARSE") == "a"  # stops at the first '='
    assert parsed("REGEX_LOG_PARSE") == "a=1;b=2;c"  # Java's greedy match takes the last


def test_multiple_outputs_each_to_its_sink(tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli
    from tests.kda.helpers import EXAMPLES

    text = (EXAMPLES / "multiple_outputs.sql").read_text().replace("'lake/kda/all_ticks'", f"'{tmp_path / 'lake'}'")
    pipeline = tmp_path / "multiple_outputs.sql"
    pipeline.write_text(text)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    triggers = [json.loads(line) for line in result.stdout.splitlines()]
    assert unordered(triggers) == unordered(
        [
            {"TICKER_SYMBOL": "AMZN", "TRIGGER_COUNT": 3},
            {"TICKER_SYMBOL": "WMT", "TRIGGER_COUNT": 1},
            {"TICKER_SYMBOL": "XTC", "TRIGGER_COUNT": 1},
        ]
    )
    delivered = [
        json.loads(line) for f in sorted((tmp_path / "lake").rglob("*.json")) for line in f.read_text().splitlines()
    ]
    assert len(delivered) == 8
    assert delivered[0] == {"TICKER_SYMBOL": "AMZN", "SECTOR": "TECHNOLOGY", "CHANGE": 1.5, "PRICE": 100.0}


def _sum_of_attributions(explanation: str) -> float:
    return sum(float(column["ATTRIBUTION_SCORE"]) for column in json.loads(explanation).values())


def test_anomaly_explanation_example_attributes_and_directs_each_column(tmp_path: Path) -> None:
    rows = run_example("anomaly_explanation", tmp_path)
    assert len(rows) == 500
    unusual = [r for r in rows if r["BloodPressureLevel"] != "NORMAL"]
    usual = [r["ANOMALY_SCORE"] for r in rows[100:] if r["BloodPressureLevel"] == "NORMAL"]
    assert [r["BloodPressureLevel"] for r in unusual] == ["HIGH", "HIGH", "LOW"]
    assert min(r["ANOMALY_SCORE"] for r in unusual) > 2 * max(usual)
    for row in rows[70:]:
        explanation = json.loads(row["ANOMALY_EXPLANATION"])
        assert set(explanation) == {"Systolic", "Diastolic"}
        # The reference: the attribution scores of a record's columns add up to its anomaly score.
        assert abs(_sum_of_attributions(row["ANOMALY_EXPLANATION"]) - row["ANOMALY_SCORE"]) < 0.001
    for row in unusual:
        directions = {c: e["DIRECTION"] for c, e in json.loads(row["ANOMALY_EXPLANATION"]).items()}
        assert set(directions.values()) == {row["BloodPressureLevel"]}


def test_anomaly_detection_example_sorts_each_second_by_score(tmp_path: Path) -> None:
    rows = run_example("anomaly_detection", tmp_path)
    assert len(rows) == 500
    spikes = [r for r in rows if r["rateType"] == "HIGH"]
    normal = [r["ANOMALY_SCORE"] for r in rows[100:] if r["rateType"] == "NORMAL"]
    assert len(spikes) == 3 and min(r["ANOMALY_SCORE"] for r in spikes) > 2 * max(normal)
