"""How the http sink cuts a batch into requests and names them (no server needed)."""

from __future__ import annotations

import base64
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from flowsql.delivery.http import request_id, split_records


def body_size(records: list[bytes]) -> int:
    body = {
        "requestId": str(uuid.uuid4()),
        "timestamp": 1_700_000_000_000,
        "records": [{"data": base64.b64encode(r).decode()} for r in records],
    }
    return len(json.dumps(body, separators=(",", ":")).encode())


@given(st.lists(st.binary(min_size=0, max_size=300), max_size=200), st.integers(min_value=400, max_value=5_000))
def test_requests_stay_under_the_limit_and_keep_every_record_in_order(records: list[bytes], limit: int) -> None:
    groups = split_records(records, limit)
    assert [r for g in groups for r in g] == records
    assert all(g for g in groups)
    for group in groups:
        assert len(group) == 1 or body_size(group) <= limit


def test_request_ids_are_uuids_derived_from_position_and_records() -> None:
    records = [b'{"a":1}', b'{"a":2}']
    first = request_id("clicks", "metrics", 7, records)
    assert str(uuid.UUID(first)) == first and uuid.UUID(first).version == 5
    assert first == request_id("clicks", "metrics", 7, list(records))  # a replay of the same records
    others = {
        request_id("clicks", "metrics", 8, records),
        request_id("clicks", "metrics", 7, records[:1]),
        request_id("clicks", "metrics", 7, [b'{"a":1}', b'{"a":3}']),
        request_id("clicks", "metrics", 7, [b'{"a":1}\n{"a":2}']),
        request_id("clicks", "other", 7, records),
        request_id("other", "metrics", 7, records),
    }
    assert first not in others and len(others) == 6
