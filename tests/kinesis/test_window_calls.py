"""The calls a tumbling-window handler gets, by Lambda's rules: batches within a window, the state
passed on, a final call per window, batchItemFailures retried from the failed record, errors
bisected, the retry limit, a state past 1 MB ending the window early, and a checkpoint's state
taken back."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowsql.delivery.handler import load_handler
from flowsql.sources.kinesis_windows import TumblingWindows, WindowSettings

HANDLERS = Path(__file__).parent / "handlers"
START = datetime(2024, 1, 1, tzinfo=UTC)


def records(ids: range, second: float = 0.0, reject: set[int] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    return [
        {
            "SequenceNumber": f"{1000 + i}",
            "PartitionKey": f"k{i}",
            "Data": json.dumps({"id": i, "reject": i in reject}).encode(),
            "ApproximateArrivalTimestamp": START + timedelta(seconds=second, milliseconds=i),
        }
        for i in ids
    ]


def windows(handler: Any, **settings: Any) -> TumblingWindows:
    return TumblingWindows(handler, WindowSettings(window_seconds=60, **settings), "orders", sleep=lambda _: None)


class Recorder:
    """A handler that keeps each event it was called with, around the real handler."""

    def __init__(self, handler: Any) -> None:
        self.handler, self.events = handler, []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(json.loads(json.dumps(event)))
        return self.handler(event, context)


def test_state_passes_from_call_to_call_and_the_final_call_closes_the_window() -> None:
    handler, _ = load_handler("report_failures.py:lambda_handler", HANDLERS)
    recorder = Recorder(handler)
    runner = windows(recorder, batch_size=3)
    first = runner.take("shardId-1", records(range(10)))
    assert first.closed == [] and first.failed == []
    assert [len(e["Records"]) for e in recorder.events] == [3, 3, 3, 1]
    assert [e["state"].get("ids", []) for e in recorder.events] == [[], [0, 1, 2], [0, 1, 2, 3, 4, 5], list(range(9))]
    event = recorder.events[0]
    assert event["window"] == {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:01:00Z"}
    assert event["shardId"] == "shardId-1" and not event["isFinalInvokeForWindow"]
    kinesis = event["Records"][0]["kinesis"]
    assert kinesis["sequenceNumber"] == "1000" and json.loads(base64.b64decode(kinesis["data"]))["id"] == 0
    assert kinesis["approximateArrivalTimestamp"] == START.timestamp()

    second = runner.take("shardId-1", records(range(10, 12), second=61))  # the next window
    final = recorder.events[4]
    assert final["isFinalInvokeForWindow"] and final["Records"] == [] and final["state"]["ids"] == list(range(10))
    assert [c.state["ids"] for c in second.closed] == [list(range(10))]
    assert recorder.events[5]["state"] == {} and recorder.events[5]["window"]["start"] == "2024-01-01T00:01:00Z"
    assert runner.consumed("shardId-1") == "1011"


def test_a_reported_failure_retries_from_that_record_and_the_rest_goes_to_the_error_output() -> None:
    handler, _ = load_handler("report_failures.py:lambda_handler", HANDLERS)
    recorder = Recorder(handler)
    runner = windows(recorder, batch_size=10, report_batch_item_failures=True, maximum_retry_attempts=1)
    result = runner.take("shardId-1", records(range(10), reject={4}))
    # The state keeps what came before the failed record; the call is repeated from it (one
    # retry), then the rest of the batch goes to the error output, as Lambda does.
    assert [e["Records"][0]["kinesis"]["sequenceNumber"] for e in recorder.events] == ["1000", "1004"]
    assert [json.loads(r.raw)["id"] for r in result.failed] == list(range(4, 10))
    assert {r.error_code for r in result.failed} == {"handler-failed"}
    assert "reported record 1004 failed" in result.failed[0].message
    assert runner.shards["shardId-1"].state == {"ids": [0, 1, 2, 3]}
    assert runner.consumed("shardId-1") == "1009"


def test_without_report_batch_item_failures_the_answer_counts_as_success() -> None:
    handler, _ = load_handler("report_failures.py:lambda_handler", HANDLERS)
    runner = windows(handler, batch_size=10)
    result = runner.take("shardId-1", records(range(6), reject={2}))
    assert result.failed == [] and runner.consumed("shardId-1") == "1005"


def test_an_error_is_bisected_down_to_the_record_and_a_flaky_call_succeeds_on_retry() -> None:
    calls: list[list[int]] = []
    flaky = {7}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ids = [json.loads(base64.b64decode(r["kinesis"]["data"]))["id"] for r in event["Records"]]
        calls.append(ids)
        if 3 in ids:
            raise RuntimeError("three is poison")
        if flaky & set(ids):
            flaky.clear()  # fails once
            raise TimeoutError("slow downstream")
        return {"state": {"n": event["state"].get("n", 0) + len(ids)}}

    runner = windows(handler, batch_size=8, bisect_on_error=True, maximum_retry_attempts=2)
    result = runner.take("shardId-1", records(range(8)))
    assert [json.loads(r.raw)["id"] for r in result.failed] == [3]
    assert "RuntimeError: three is poison" in result.failed[0].message
    assert calls.count([3]) == 3  # the first call and two retries
    assert runner.shards["shardId-1"].state == {"n": 7}


def test_a_response_without_state_is_a_failed_call() -> None:
    runner = windows(lambda event, context: {"batchItemFailures": []}, maximum_retry_attempts=0)
    result = runner.take("shardId-1", records(range(2)))
    assert len(result.failed) == 2 and "no 'state'" in result.failed[0].message


def test_a_state_past_1_mb_ends_the_window_early_and_the_window_goes_on_fresh() -> None:
    recorder = Recorder(
        lambda event, context: {
            "state": {"blob": "x" * 600_000 * (len(event["state"]) + 1)}
            if not event["isFinalInvokeForWindow"]
            else event["state"]
        }
    )
    runner = windows(recorder, batch_size=1)
    result = runner.take("shardId-1", records(range(3)))
    early = [c for c in result.closed if c.terminated_early]
    assert len(early) == 1 and len(early[0].state["blob"]) == 1_200_000
    final = next(e for e in recorder.events if e["isFinalInvokeForWindow"])
    assert final["isWindowTerminatedEarly"] and final["window"]["start"] == "2024-01-01T00:00:00Z"
    assert runner.shards["shardId-1"].start_ms == int(START.timestamp() * 1000)  # the same window, fresh state
    assert len(runner.shards["shardId-1"].state["blob"]) == 600_000


def test_a_checkpoints_state_is_taken_back() -> None:
    handler, _ = load_handler("report_failures.py:lambda_handler", HANDLERS)
    runner = windows(handler)
    runner.take("shardId-1", records(range(4)))
    saved = json.loads(json.dumps(runner.snapshot()))
    again = windows(handler)
    again.restore(saved)
    assert again.consumed("shardId-1") == "1003"
    result = again.take("shardId-1", records(range(4, 6)) + records(range(6, 7), second=60))
    assert [c.state["ids"] for c in result.closed] == [list(range(6))]
