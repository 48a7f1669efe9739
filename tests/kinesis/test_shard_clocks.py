"""Per-shard clocks across resharding: a parent read to its end holds time until its children
start, and a child starts where its parents ended (a merge at the lesser of the two)."""

from __future__ import annotations

import threading

from flowsql.sources.event_time import PartitionClocks
from flowsql.sources.kinesis_clocks import ShardClocks

S = 1_000_000


def _shard(shard_id: str, parent: str | None = None, adjacent: str | None = None) -> dict:
    return {"ShardId": shard_id, "ParentShardId": parent, "AdjacentParentShardId": adjacent}


def test_a_split_parent_holds_time_until_its_children_start() -> None:
    clocks = ShardClocks(PartitionClocks(["ts"], idle_timeout=None, max_drift=None))
    for shard in ("a", "b"):
        clocks.start(shard, _shard(shard))
    clocks.observe({"a": {"ts": 10 * S}, "b": {"ts": 50 * S}}, ["a", "b"])
    clocks.ended("a")
    clocks.listed({"a": _shard("a"), "b": _shard("b")})  # the children are not listed yet
    clocks.observe({"b": {"ts": 90 * S}}, ["b"])
    assert clocks.progress()[0] == {"ts": 10 * S}
    listing = {"a": _shard("a"), "b": _shard("b"), "c": _shard("c", "a"), "d": _shard("d", "a")}
    clocks.listed(listing)
    assert clocks.progress()[0] == {"ts": 10 * S}  # listed but not started: still held
    clocks.start("c", listing["c"])
    clocks.start("d", listing["d"])
    clocks.observe({"c": {"ts": 20 * S}}, ["c"])
    assert clocks.progress()[0] == {"ts": 10 * S}  # d starts at its parent's end
    clocks.observe({"d": {"ts": 30 * S}}, ["d"])
    assert clocks.progress()[0] == {"ts": 20 * S}


def test_a_merged_child_starts_at_the_lesser_parent_and_the_first_parent_waits_on_the_other() -> None:
    clocks = ShardClocks(PartitionClocks(["ts"], idle_timeout=None, max_drift=None))
    for shard in ("a", "b", "x"):
        clocks.start(shard, _shard(shard))
    clocks.observe({"a": {"ts": 40 * S}, "b": {"ts": 30 * S}, "x": {"ts": 100 * S}}, ["a", "b", "x"])
    listing = {"a": _shard("a"), "b": _shard("b"), "x": _shard("x"), "m": _shard("m", "a", "b")}
    clocks.ended("a")
    clocks.listed(listing)  # b is still read: it holds time for the child, so a lets go
    clocks.observe({"b": {"ts": 60 * S}}, ["b"])
    assert clocks.progress()[0] == {"ts": 60 * S}
    clocks.ended("b")
    clocks.listed(listing)
    clocks.observe({"x": {"ts": 200 * S}}, ["x"])
    assert clocks.progress()[0] == {"ts": 60 * S}  # b holds until m starts
    clocks.start("m", listing["m"])
    assert clocks.snapshot()["m"]["latest"] == {"ts": 40 * S}
    clocks.observe({"m": {"ts": 150 * S}}, ["m"])
    assert clocks.progress()[0] == {"ts": 150 * S}


def test_a_paused_reader_wakes_when_the_slowest_shard_moves() -> None:
    clocks = ShardClocks(PartitionClocks(["ts"], idle_timeout=None, max_drift=60.0))
    for shard in ("slow", "fast"):
        clocks.start(shard, _shard(shard))
    clocks.observe({"slow": {"ts": 0}, "fast": {"ts": 120 * S}}, ["slow", "fast"])
    clocks.progress()
    stop = threading.Event()
    waited: list[bool] = []
    reader = threading.Thread(target=lambda: waited.append(clocks.wait_turn("fast", stop)))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and clocks.snapshot()["fast"]["paused"] is True
    clocks.observe({"slow": {"ts": 70 * S}}, ["slow"])
    clocks.progress()  # the slowest moved: paused readers look again
    reader.join(5)
    assert waited == [True] and clocks.snapshot()["fast"]["paused"] is False
