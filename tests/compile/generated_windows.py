"""A generated family of window pipelines for the conformance suite: each window kind (TUMBLE,
HOP, SESSION) over the source and over a view, with several aggregates, with and without a
filter, and each GROUP BY form (ALL, explicit keys, only window_end or window_start selected)."""

from __future__ import annotations

SOURCE = """CREATE SOURCE clicks (
    event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, country VARCHAR,
    price DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'generator', seed = {seed});

CREATE VIEW sales AS
SELECT user_id, page, event_type, price, ts FROM clicks WHERE event_type IN ('add_to_cart', 'purchase');
"""

GENERATED_SEED = 5

WINDOWS = {
    "tumble": "TUMBLE({input}, ts, INTERVAL '5 seconds')",
    "hop": "HOP({input}, ts, INTERVAL '2 seconds', INTERVAL '6 seconds')",
    "session": "SESSION({input}, ts, INTERVAL '1 second')",
}

AGGREGATES = (
    "count(*) AS events, count(DISTINCT user_id) AS users, sum(price) AS spend, min(price) AS cheapest, "
    "max(price) AS dearest, avg(price) AS mean, "
    "sum(price) FILTER (WHERE event_type = 'purchase') AS bought"
)

# (name, select list before the aggregates, GROUP BY clause)
GROUP_FORMS = (
    ("all", "window_start, window_end, page", "GROUP BY ALL"),
    ("keys", "window_start, window_end, page", "GROUP BY window_start, window_end, page"),
    ("end_only", "window_end", "GROUP BY ALL"),
    ("start_only", "window_start", "GROUP BY ALL"),
)


def generated_pipelines() -> dict[str, str]:
    """Pipeline name → text; one pipeline per window kind, one sink per combination."""
    pipelines = {}
    for kind, window in WINDOWS.items():
        statements = [SOURCE.format(seed=GENERATED_SEED)]
        for index, (form, keys, group) in enumerate(GROUP_FORMS):
            for input_name in ("clicks", "sales"):
                filtered = (index + (input_name == "sales")) % 2 == 1
                sink = f"{form}_{input_name}{'_filtered' if filtered else ''}"
                where = "WHERE price > 10\n" if filtered else ""
                if kind == "session" and not form.endswith("_only"):
                    keys_used = keys.replace("page", "user_id")
                    group_used = group.replace("page", "user_id")
                else:
                    keys_used, group_used = keys, group
                statements.append(
                    f"CREATE SINK {sink} WITH (connector = 'stdout');\n"
                    f"INSERT INTO {sink}\nSELECT {keys_used}, {AGGREGATES}\n"
                    f"FROM {window.format(input=input_name)}\n{where}{group_used};\n"
                )
        pipelines[f"generated/{kind}"] = "\n".join(statements)
    return pipelines
