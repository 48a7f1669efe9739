"""The figures benchmarks print, each checked before it is shown: a rate over a time too short to
measure, a negative latency or a ratio of a missing figure is reported as not measured, with
the reason, never as a number."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Below this, timer resolution and start-up noise are the figure: 10 ms at a million events
# per second is 10,000 events, the least a rate can be read from.
MIN_SECONDS = 0.01


@dataclass(frozen=True)
class Figure:
    value: float | None
    reason: str = ""  # why there is no value

    @property
    def measured(self) -> bool:
        return self.value is not None

    def show(self, form: str) -> str:
        """`form` (a format such as "{:,.0f} events/s") filled in, or 'not measured (why)'."""
        return form.format(self.value) if self.value is not None else f"not measured ({self.reason})"

    def to_json(self) -> float | dict[str, str]:
        return self.value if self.value is not None else {"not_measured": self.reason}


def not_measured(reason: str) -> Figure:
    return Figure(None, reason)


def rate(count: float, seconds: float, what: str = "events") -> Figure:
    """`count` per second over `seconds`."""
    if count <= 0:
        return not_measured(f"no {what} were counted")
    if not math.isfinite(seconds) or seconds < MIN_SECONDS:
        return not_measured(f"{seconds:.3g} s elapsed, under the {MIN_SECONDS:g} s a rate can be timed from")
    return Figure(count / seconds)


def ratio(numerator: Figure, denominator: Figure) -> Figure:
    if numerator.value is None or denominator.value is None:
        return not_measured("one side was not measured")
    if denominator.value <= 0:
        return not_measured("the baseline is zero")
    return Figure(numerator.value / denominator.value)


def percentile(samples: Sequence[float], fraction: float, what: str) -> Figure:
    """The `fraction` percentile of `samples` (seconds); a negative one is not a latency: it
    says the clocks compared do not measure what the figure claims."""
    if not samples:
        return not_measured(f"no {what} samples")
    ordered = sorted(samples)
    value = ordered[int(fraction * (len(ordered) - 1))]
    if value < 0:
        negative = sum(1 for s in ordered if s < 0)
        return not_measured(
            f"{negative} of {len(ordered)} {what} samples are negative (down to "
            f"{ordered[0] * 1000:,.0f} ms): those windows were written before their watermark "
            "passed their end, so their times measure the event clock, not delivery"
        )
    return Figure(value)
