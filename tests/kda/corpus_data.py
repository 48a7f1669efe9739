"""The generated inputs the KDA corpus apps read: JSON lines (and one CSV) written to a folder,
and the same data as DuckDB tables for the expected queries. Seeded: every run is the same."""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

START = datetime(2024, 5, 1, 10, 0, 0)
TICKERS = {"AMZN": "TECHNOLOGY", "MSFT": "TECHNOLOGY", "WMT": "RETAIL", "XOM": "ENERGY", "NFLX": "MEDIA"}
COMPANIES = {"AMZN": "Amazon", "MSFT": "Microsoft", "WMT": "Walmart", "XOM": "ExxonMobil"}  # NFLX has none
PAGES = ["/home", "/search", "/product/1", "/product/2", "/cart", "/checkout"]
REGIONS = {"EU": "Europe", "US": "United States", "APAC": "Asia Pacific"}
NAMESPACES = ["prod", "staging", "kube-system"]


def _times(rng: random.Random, count: int, low: int, high: int) -> list[datetime]:
    """Increasing arrival times low..high seconds apart, never two the same."""
    at, out = START, []
    for _ in range(count):
        at += timedelta(seconds=rng.randint(low, high), milliseconds=rng.randint(1, 999))
        out.append(at)
    return out


def _text(at: datetime) -> str:
    return at.isoformat(sep=" ", timespec="milliseconds")


def ticks(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for at in _times(rng, 300, 1, 4):
        ticker = rng.choice(list(TICKERS))
        event = at - timedelta(seconds=rng.randint(0, 20))
        rows.append(
            {
                "arrival_time": _text(at),
                "event_time": _text(event),
                "event_text": event.strftime("%d/%m/%Y %H:%M:%S"),
                "ticker_symbol": ticker,
                "sector": TICKERS[ticker],
                "change": round(rng.uniform(-3, 3), 2),
                "price": round(rng.uniform(10, 200), 2),
            }
        )
    return rows


def sensors(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n, at in enumerate(_times(rng, 240, 1, 5)):
        temperature = round(rng.gauss(22, 3), 1) + (25 if n % 47 == 13 else 0)  # a few spikes
        rows.append(
            {
                "arrival_time": _text(at),
                "device_id": f"sensor-{rng.randint(1, 4)}",
                "temperature": temperature,
                "humidity": rng.randint(20, 90),
                "status": rng.choice(["OK", "OK", "OK", "WARN", "FAIL"]),
            }
        )
    return rows


def clicks(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for at in _times(rng, 240, 1, 12):
        rows.append(
            {
                "arrival_time": _text(at),
                "user_id": f"u{rng.randint(1, 6)}",
                "page": rng.choice(PAGES),
                "event_type": rng.choice(["view", "view", "click", "purchase"]),
                "duration_ms": rng.randint(50, 5000),
            }
        )
    return rows


def orders(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n, at in enumerate(_times(rng, 200, 1, 5)):
        customer = (
            None if n % 11 == 5 else {"id": f"c{rng.randint(1, 30)}", "region": rng.choice(["EU", "US", "APAC", None])}
        )
        rows.append(
            {
                "arrival_time": _text(at),
                "order": {
                    "id": f"o{n}",
                    "customer": customer,
                    "amount": round(rng.uniform(1, 500), 2),
                    "items": rng.randint(1, 6),
                },
                "channel": rng.choice(["web", "app"]),
            }
        )
    return rows


def k8s(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n, at in enumerate(_times(rng, 200, 1, 5)):
        kubernetes = (
            None
            if n % 13 == 7
            else {
                "namespace_name": rng.choice(NAMESPACES),
                "pod_name": f"web-{rng.randint(1, 5)}",
                "labels": {"app": rng.choice(["api", "web"])},
            }
        )
        rows.append(
            {
                "arrival_time": _text(at),
                "log": rng.choice(["GET /health 200", "GET /api 500", "POST /api 201", "timeout talking to db"]),
                "stream": rng.choice(["stdout", "stderr"]),
                "kubernetes": kubernetes,
            }
        )
    return rows


def access(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for at in _times(rng, 200, 1, 5):
        host = f"10.0.0.{rng.randint(1, 9)}"
        method, path = rng.choice(
            [("GET", "/index.html"), ("GET", "/api/items"), ("POST", "/api/orders"), ("GET", "/img/logo.png")]
        )
        status = rng.choice([200, 200, 200, 304, 404, 500, 503])
        size = rng.randint(100, 9000)
        stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
        rows.append(
            {"arrival_time": _text(at), "log": f'{host} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size}'}
        )
    return rows


DATASETS = {"ticks": ticks, "sensors": sensors, "clicks": clicks, "orders": orders, "k8s": k8s, "access": access}


def write_all(folder: Path) -> duckdb.DuckDBPyConnection:
    """Write every dataset under `folder` and return a DuckDB connection holding each as a table
    (JSON objects as structs, arrival_time a TIMESTAMP) and the reference tables `companies` and `regions`."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, make in DATASETS.items():
        path = folder / f"{name}.json"
        path.write_text("".join(json.dumps(row) + "\n" for row in make(random.Random(name))))
        con.execute(
            f"CREATE TABLE {name} AS SELECT * REPLACE (CAST(arrival_time AS TIMESTAMP) AS arrival_time) "
            f"FROM read_json('{path}')"
        )
    with (folder / "companies.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Ticker", "Company"])
        writer.writerows(COMPANIES.items())
    con.execute(f"CREATE TABLE companies AS SELECT * FROM read_csv('{folder / 'companies.csv'}')")
    regions = folder / "regions.json"
    regions.write_text("".join(json.dumps({"code": code, "name": name}) + "\n" for code, name in REGIONS.items()))
    con.execute(f"CREATE TABLE regions AS SELECT * FROM read_json('{regions}')")
    with (folder / "ticks.psv").open("w") as out:  # the ticks again as '|'-separated lines, no header
        for row in con.execute("SELECT arrival_time, ticker_symbol, sector, price FROM ticks").fetchall():
            out.write("|".join(str(v) for v in row) + "\n")
    return con
