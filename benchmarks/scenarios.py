"""The benchmark scenarios: each a flowsql query and the DuckDB batch query that gives the same
rows over the same file, and the clickstream it reads (events per second of event time, users)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    ours: str  # the pipeline's query, FROM a window over `clicks`
    batch: str  # DuckDB's one-shot query over the view `clicks`
    rate: float = 2000.0  # events per second of event time in the input
    users: int = 10_000  # the user population the input draws from


# Two hours and more of event time at 200 events/s: 30-minute sessions and 1-hour windows close
# while the run goes on, as they would in a day's stream, rather than all at its end.
LONG_RATE = 200.0
MANY_USERS = 1_000_000

_TUMBLE_BOUNDS = (
    "time_bucket(INTERVAL 1 MINUTE, ts) AS window_start, "
    "time_bucket(INTERVAL 1 MINUTE, ts) + INTERVAL 1 MINUTE AS window_end"
)

SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "tumble",
            "1-minute tumbling count / count distinct / sum by page",
            "SELECT window_start, window_end, page, count(*) AS views, count(DISTINCT user_id) AS visitors, "
            "sum(price) AS revenue FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL",
            f"SELECT {_TUMBLE_BOUNDS}, page, count(*) AS views, count(DISTINCT user_id) AS visitors, "
            "sum(price) AS revenue FROM clicks GROUP BY ALL",
        ),
        Scenario(
            "hop",
            "10-second-slide 1-minute hop by country",
            "SELECT window_start, window_end, country, count(*) AS events, sum(price) AS revenue "
            "FROM HOP(clicks, ts, INTERVAL '10 seconds', INTERVAL '1 minute') GROUP BY ALL",
            "SELECT w.ws AS window_start, w.ws + INTERVAL 1 MINUTE AS window_end, country, count(*) AS events, "
            "sum(price) AS revenue FROM clicks, (SELECT unnest(range(0, 6)) AS i) r, "
            "LATERAL (SELECT time_bucket(INTERVAL 10 SECOND, ts) - r.i * INTERVAL 10 SECOND AS ws) w "
            "WHERE ts < w.ws + INTERVAL 1 MINUTE GROUP BY ALL",
        ),
        Scenario(
            "users",
            "1-minute tumbling count / sum by user, 1 M users",
            "SELECT window_start, window_end, user_id, count(*) AS events, sum(price) AS revenue "
            "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL",
            f"SELECT {_TUMBLE_BOUNDS}, user_id, count(*) AS events, sum(price) AS revenue FROM clicks GROUP BY ALL",
            rate=LONG_RATE,
            users=MANY_USERS,
        ),
        Scenario(
            "session",
            "30-minute-gap sessions: count / sum by user, 1 M users",
            "SELECT window_start, window_end, user_id, count(*) AS events, sum(price) AS revenue "
            "FROM SESSION(clicks, ts, INTERVAL '30 minutes') GROUP BY ALL",
            # A row opens a session when it comes 30 minutes or more after its user's previous row.
            "WITH marked AS (SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) "
            "< INTERVAL 30 MINUTE THEN 0 ELSE 1 END AS opens FROM clicks), "
            "numbered AS (SELECT *, sum(opens) OVER (PARTITION BY user_id ORDER BY ts, opens DESC "
            "ROWS UNBOUNDED PRECEDING) AS session FROM marked) "
            "SELECT min(ts) AS window_start, max(ts) + INTERVAL 30 MINUTE AS window_end, user_id, "
            "count(*) AS events, sum(price) AS revenue FROM numbered GROUP BY user_id, session",
            rate=LONG_RATE,
            users=MANY_USERS,
        ),
        Scenario(
            "long-hop",
            "10-second-slide 1-hour hop by page",
            "SELECT window_start, window_end, page, count(*) AS views, sum(price) AS revenue "
            "FROM HOP(clicks, ts, INTERVAL '10 seconds', INTERVAL '1 hour') GROUP BY ALL",
            # Each 10-second pane's partial sums, added into the 360 windows that hold the pane.
            "WITH panes AS (SELECT time_bucket(INTERVAL 10 SECOND, ts) AS pane, page, count(*) AS views, "
            "sum(price) AS revenue FROM clicks GROUP BY ALL) "
            "SELECT pane - r.i * INTERVAL 10 SECOND AS window_start, "
            "pane - r.i * INTERVAL 10 SECOND + INTERVAL 1 HOUR AS window_end, page, "
            "CAST(sum(views) AS BIGINT) AS views, sum(revenue) AS revenue "
            "FROM panes, range(0, 360) AS r(i) GROUP BY ALL",
            rate=LONG_RATE,
            users=MANY_USERS,
        ),
    )
}
