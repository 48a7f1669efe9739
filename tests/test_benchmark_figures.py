"""Benchmark figures are checked before they are printed: the two impossible figures once seen
(a p50 of -197 ms, 200,000,000,000,000 events/s from a near-zero elapsed time) come out as
'not measured' with the reason, and sound figures print as numbers."""

from __future__ import annotations

from benchmarks.figures import Figure, percentile, rate, ratio


def test_a_rate_over_a_near_zero_time_is_not_measured() -> None:
    # What printed 200,000,000,000,000 events/s: 200,000 events over max(total - startup, 1e-9).
    figure = rate(200_000, 1e-9)
    assert not figure.measured
    assert figure.show("{:,.0f} events/s") == (
        "not measured (1e-09 s elapsed, under the 0.01 s a rate can be timed from)"
    )
    assert figure.to_json() == {"not_measured": figure.reason}
    assert not rate(200_000, -0.4).measured and not rate(0, 2.0).measured
    assert rate(2_000_000, 4.0).show("{:,.0f} events/s") == "500,000 events/s"


def test_a_negative_latency_is_not_measured() -> None:
    samples = [-0.197, -0.05, 0.01, 0.02]  # a p50 of -197 ms was printed from samples like these
    p50 = percentile([-0.25, -0.197, -0.1, 0.01], 0.5, "latency")
    assert not p50.measured and p50.show("{:,.0f} ms").startswith("not measured (")
    assert "3 of 4 latency samples are negative (down to -250 ms)" in p50.reason
    assert percentile(samples, 0.99, "latency").value == 0.01  # the tail is sound: it is printed
    assert percentile([0.4, 0.2, 0.3], 0.5, "latency").value == 0.3
    assert not percentile([], 0.5, "latency").measured


def test_a_ratio_needs_both_figures() -> None:
    assert ratio(Figure(3.0), Figure(2.0)).value == 1.5
    assert ratio(rate(10, 0.0), Figure(2.0)).show("{:.2f}") == "not measured (one side was not measured)"
    assert not ratio(Figure(1.0), Figure(0.0)).measured
