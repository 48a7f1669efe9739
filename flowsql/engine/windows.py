"""Window assignment: which windows a row belongs to, when a window closes, which rows are late.

Times are integer microseconds since the epoch throughout, as DuckDB's TIMESTAMP stores them,
so window bounds computed here in numpy and in DuckDB's SQL agree to the microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# DuckDB's largest convenient TIMESTAMP (9999-12-31 23:59:59): "after every window".
FOREVER_US = 253_402_300_799_000_000


@dataclass(frozen=True)
class WindowSpec:
    """TUMBLE (slide == size), HOP (slide < size) or SESSION (gap, per group key)."""

    kind: str  # "tumble" | "hop" | "session"
    time_column: str
    size_us: int = 0
    slide_us: int = 0
    gap_us: int = 0
    keys: tuple[str, ...] = ()  # SQL of the session's group-key expressions

    def first_end(self, times_us: np.ndarray) -> np.ndarray:
        """The end of the earliest window each time falls in: nothing closes before it."""
        if self.kind == "session":
            return times_us + self.gap_us
        return ((times_us - self.size_us) // self.slide_us + 1) * self.slide_us + self.size_us

    def last_end(self, times_us: np.ndarray) -> np.ndarray:
        """The end of the latest window each time falls in: a row is needed until then."""
        if self.kind == "session":
            return times_us + self.gap_us
        return (times_us // self.slide_us) * self.slide_us + self.size_us

    def late(self, times_us: np.ndarray, closed_until_us: int) -> np.ndarray:
        """Rows whose every window has already been emitted."""
        if self.kind == "session":
            return times_us < closed_until_us
        return self.last_end(times_us) <= closed_until_us

    def describe(self) -> str:
        if self.kind == "tumble":
            return f"TUMBLE on {self.time_column}, size {_fmt(self.size_us)}"
        if self.kind == "hop":
            return f"HOP on {self.time_column}, slide {_fmt(self.slide_us)}, size {_fmt(self.size_us)}"
        keys = ", ".join(self.keys) or "no key"
        return f"SESSION on {self.time_column}, gap {_fmt(self.gap_us)}, per {keys}"


def assignment_sql(spec: WindowSpec, relation: str, emit_after_us: int | None, emit_until_us: int | None) -> str:
    """A subquery of `relation`'s rows with window_start and window_end added, limited to the
    windows that end in (emit_after, emit_until] when those are given."""
    time_us = f'epoch_us(CAST("{spec.time_column}" AS TIMESTAMP))'
    if spec.kind == "session":
        return _session_sql(spec, relation, time_us, emit_after_us, emit_until_us)
    where = [f'"{spec.time_column}" IS NOT NULL']
    if spec.kind == "tumble":
        inner = f"SELECT *, ({time_us} // {spec.size_us}) * {spec.size_us} AS __ws FROM {relation}"
    else:
        inner = _hop_copies(spec, relation, time_us, emit_after_us, emit_until_us)
        where.append(f"__ws + {spec.size_us} > {time_us}")
    where += _emit_filter(f"__ws + {spec.size_us}", emit_after_us, emit_until_us)
    return (
        f"SELECT * EXCLUDE (__ws), make_timestamp(__ws) AS window_start, "
        f"make_timestamp(__ws + {spec.size_us}) AS window_end FROM ({inner}) WHERE {' AND '.join(where)}"
    )


def _hop_copies(spec: WindowSpec, relation: str, time_us: str, after: int | None, until: int | None) -> str:
    """One copy of each row per hop window it may fall in, __i slides back from its own. With
    emission bounds, only the copies whose window ends in (after, until]: a 1-hour hop by 10
    seconds would otherwise make 360 copies of every kept row at every emission."""
    copies = -(-spec.size_us // spec.slide_us)
    slide, size = spec.slide_us, spec.size_us
    base = f"({time_us} // {slide}) * {slide}"
    if after is None and until is None:
        return (
            f"SELECT * EXCLUDE (__i), {base} - __i * {slide} AS __ws "
            f"FROM {relation} CROSS JOIN range({copies}) AS __w(__i)"
        )
    # Window __i ends at base - __i * slide + size. The bounds may take one copy too many (the
    # outer filter drops it), never one too few.
    low = "0" if until is None else f"greatest(0, ({base} + {size} - {until}) // {slide})"
    high = str(copies) if after is None else f"least({copies}, ({base} + {size} - {after}) // {slide} + 1)"
    return (
        f"SELECT * EXCLUDE (__i), {base} - __i * {slide} AS __ws "
        f"FROM (SELECT *, unnest(range({low}, {high})) AS __i FROM {relation})"
    )


def session_bounds_sql(spec: WindowSpec, relation: str) -> str:
    """`relation`'s rows with their session's bounds (__ws, __we, microseconds) per group key.

    A row opens a new session when it is at least `gap` after the previous row of its key;
    ties sort the opening row first so that session numbers do not depend on row order."""
    time_us = f'epoch_us(CAST("{spec.time_column}" AS TIMESTAMP))'
    partition = f"PARTITION BY {', '.join(spec.keys)}" if spec.keys else ""
    marked = (
        f"SELECT *, {time_us} AS __t, CASE WHEN {time_us} - lag({time_us}) OVER "
        f"({partition} ORDER BY {time_us}) < {spec.gap_us} THEN 0 ELSE 1 END AS __new "
        f'FROM {relation} WHERE "{spec.time_column}" IS NOT NULL'
    )
    numbered = (
        f"SELECT *, sum(__new) OVER ({partition} ORDER BY __t, __new DESC ROWS UNBOUNDED PRECEDING) "
        f"AS __sid FROM ({marked})"
    )
    group = f"PARTITION BY {', '.join([*spec.keys, '__sid'])}"
    return (
        f"SELECT *, min(__t) OVER ({group}) AS __ws, max(__t) OVER ({group}) + {spec.gap_us} AS __we FROM ({numbered})"
    )


SESSION_COLUMNS = "__t, __new, __sid, __ws, __we"


def _session_sql(spec: WindowSpec, relation: str, time_us: str, after: int | None, until: int | None) -> str:
    where = _emit_filter("__we", after, until) or ["true"]
    return (
        f"SELECT * EXCLUDE ({SESSION_COLUMNS}), make_timestamp(__ws) AS window_start, "
        f"make_timestamp(__we) AS window_end FROM ({session_bounds_sql(spec, relation)}) "
        f"WHERE {' AND '.join(where)}"
    )


def _emit_filter(end_us: str, after: int | None, until: int | None) -> list[str]:
    out = []
    if after is not None:
        out.append(f"{end_us} > {after}")
    if until is not None:
        out.append(f"{end_us} <= {until}")
    return out


def _fmt(us: int) -> str:
    seconds = us / 1_000_000
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"
