"""An HTTP endpoint that receives Firehose HTTP deliveries and checks every field of the contract.

Each request is checked (headers, body, base64 records, access key, common attributes, gzip);
a breach is recorded in `violations` and answered 400. Accepted batches are kept by request id,
so a repeated id (a retry after a lost answer) is counted, not stored twice. The receiver can
fail requests on purpose (status, no requestId echo) and refuse bodies over `max_body` with 413.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceiverState:
    access_key: str | None = None
    common_attributes: dict[str, str] | None = None
    gzip: bool = False
    max_body: int | None = None
    fail_statuses: list[int] = field(default_factory=list)  # answered in turn before accepting
    wrong_echo: int = 0  # answer 200 with another requestId this many times
    batches: dict[str, list[bytes]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    repeats: int = 0
    requests: int = 0
    too_large: int = 0
    headers_seen: list[dict[str, str]] = field(default_factory=list)


class FirehoseReceiver:
    def __init__(self, state: ReceiverState | None = None, certificate: tuple[str, str] | None = None) -> None:
        self.state = state or ReceiverState()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, answer = receiver.handle(dict(self.headers.items()), raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}/ingest"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FirehoseReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what arrived ------------------------------------------------------------------------
    def records(self) -> list[bytes]:
        with self.lock:
            return [r for rid in self.state.order for r in self.state.batches[rid]]

    def rows(self) -> list[dict[str, object]]:
        return [json.loads(r) for r in self.records()]

    # -- one request -------------------------------------------------------------------------
    def handle(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, object]]:
        state = self.state
        lower = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            state.requests += 1
            state.headers_seen.append(lower)
        problems: list[str] = []
        rid = lower.get("x-amz-firehose-request-id", "")
        try:
            uuid.UUID(rid)
        except ValueError:
            problems.append(f"X-Amz-Firehose-Request-Id {rid!r} is not a UUID")
        if lower.get("content-type") != "application/json":
            problems.append(f"Content-Type is {lower.get('content-type')!r}")
        if lower.get("x-amz-firehose-protocol-version") != "1.0":
            problems.append("X-Amz-Firehose-Protocol-Version is not 1.0")
        if not lower.get("x-amz-firehose-source-arn"):
            problems.append("X-Amz-Firehose-Source-Arn missing")
        if state.access_key is not None and lower.get("x-amz-firehose-access-key") != state.access_key:
            problems.append("X-Amz-Firehose-Access-Key wrong or missing")
        if state.access_key is None and "x-amz-firehose-access-key" in lower:
            problems.append("X-Amz-Firehose-Access-Key sent though none is configured")
        if state.common_attributes is not None:
            try:
                attributes = json.loads(lower.get("x-amz-firehose-common-attributes", ""))
            except ValueError:
                attributes = None
            if attributes != {"commonAttributes": state.common_attributes}:
                problems.append(f"X-Amz-Firehose-Common-Attributes is {attributes!r}")
        body = raw
        if state.gzip:
            if lower.get("content-encoding") != "gzip":
                problems.append("Content-Encoding: gzip missing")
            else:
                try:
                    body = gzip.decompress(raw)
                except OSError:
                    problems.append("body is not gzip")
        elif "content-encoding" in lower:
            problems.append("Content-Encoding sent though compression is off")
        if state.max_body is not None and len(body) > state.max_body:
            with self.lock:
                state.too_large += 1
            return 413, {"requestId": rid, "timestamp": _now(), "errorMessage": "payload too large"}
        records = self._check_body(body, rid, problems)
        if problems:
            with self.lock:
                state.violations.extend(problems)
            return 400, {"requestId": rid, "timestamp": _now(), "errorMessage": "; ".join(problems)}
        with self.lock:
            if state.fail_statuses:
                status = state.fail_statuses.pop(0)
                return status, {"requestId": rid, "timestamp": _now(), "errorMessage": "failing on purpose"}
            if rid in state.batches:
                state.repeats += 1
                if state.batches[rid] != records:
                    state.violations.append(f"request {rid} repeated with different records")
            else:
                state.batches[rid] = records
                state.order.append(rid)
            if state.wrong_echo:
                state.wrong_echo -= 1
                return 200, {"requestId": str(uuid.uuid4()), "timestamp": _now()}
        return 200, {"requestId": rid, "timestamp": _now()}

    @staticmethod
    def _check_body(body: bytes, rid: str, problems: list[str]) -> list[bytes]:
        try:
            document = json.loads(body)
        except ValueError:
            problems.append("body is not JSON")
            return []
        if not isinstance(document, dict) or set(document) != {"requestId", "timestamp", "records"}:
            problems.append(f"body keys are {sorted(document) if isinstance(document, dict) else document!r}")
            return []
        if document["requestId"] != rid:
            problems.append("body requestId differs from the X-Amz-Firehose-Request-Id header")
        stamp = document["timestamp"]
        if not isinstance(stamp, int) or abs(stamp - _now()) > 600_000:
            problems.append(f"timestamp {stamp!r} is not the current time in epoch milliseconds")
        records = []
        for item in document["records"] if isinstance(document["records"], list) else [None]:
            if not isinstance(item, dict) or set(item) != {"data"} or not isinstance(item["data"], str):
                problems.append(f'record {item!r} is not {{"data": base64}}')
                continue
            try:
                records.append(base64.b64decode(item["data"], validate=True))
            except (binascii.Error, ValueError):
                problems.append("record data is not base64")
        if not records and not problems:
            problems.append("a request without records")
        return records


def _now() -> int:
    return int(time.time() * 1000)
