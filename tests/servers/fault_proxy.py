"""An HTTP proxy that sits between flowsql and a server and injects faults on the wire.

Rules are matched in order against each request (method, path, headers, body); a matching
rule with uses left answers with an error status, a delay, a closed connection, or lets the
request through. Everything else is forwarded unchanged. Counters tell the test what happened.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Matcher = Callable[[str, str, dict[str, str], bytes], bool]


@dataclass
class Fault:
    """What to do with a matching request: `status` (with `body`), `delay` seconds before
    forwarding, or `reset` the connection. `times` limits how often it fires (None: always)."""

    match: Matcher = lambda method, path, headers, body: True
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    times: int | None = 1
    fired: int = 0
    transform: Callable[[bytes], bytes] | None = None  # rewrite the upstream response body
    # Kinesis PutRecords: entries for which this returns True are not forwarded and come back
    # failed, as Kinesis reports a partial failure; the rest really go in.
    fail_entries: Callable[[int, dict[str, object]], bool] | None = None
    entry_error: str = "ProvisionedThroughputExceededException"


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.faults: list[Fault] = []
        self.requests = 0
        self.forwarded = 0
        self.in_flight = 0  # requests taken and not yet answered (a delayed one counts until it is)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                fault = proxy._take_fault(self.command, self.path, headers, body)
                if fault is not None and fault.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    self.close_connection = True
                    return
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status is not None:
                    self.send_response(fault.status)
                    for key, value in fault.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.end_headers()
                    self.wfile.write(fault.body)
                    return
                if fault is not None and fault.fail_entries is not None:
                    status, reason, response_headers, data = proxy._put_records_partly(
                        fault, self.command, self.path, headers, body
                    )
                else:
                    status, reason, response_headers, data = proxy._forward(self.command, self.path, headers, body)
                if fault is not None and fault.transform is not None:
                    data = fault.transform(data)
                self.send_response(status, reason)
                for key, value in response_headers:
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle_quietly(self) -> None:
                with proxy.lock:
                    proxy.in_flight += 1
                # A client that timed out has gone: writing its late answer must not be an error.
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle_quietly

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def _take_fault(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Fault | None:
        with self.lock:
            self.requests += 1
            for fault in self.faults:
                if (fault.times is None or fault.fired < fault.times) and fault.match(method, path, headers, body):
                    fault.fired += 1
                    return fault
        return None

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            # http.client sets Content-Length for the body actually sent (it may have been rewritten).
            forward_headers = {k: v for k, v in headers.items() if k.lower() not in ("connection", "content-length")}
            connection.request(method, path, body=body if body else None, headers=forward_headers)
            response = connection.getresponse()
            data = response.read()
            with self.lock:
                self.forwarded += 1
            return response.status, response.reason, response.getheaders(), data
        finally:
            connection.close()

    def _put_records_partly(self, fault: Fault, method: str, path: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        request = json.loads(body)
        entries = request["Records"]
        failing = [bool(fault.fail_entries(i, entry)) for i, entry in enumerate(entries)]  # type: ignore[misc]
        kept = [entry for entry, fails in zip(entries, failing, strict=True) if not fails]
        results: list[dict[str, object]] = []
        upstream_failed = 0
        status, reason, response_headers = 200, "OK", [("Content-Type", "application/x-amz-json-1.1")]
        if kept:
            status, reason, response_headers, data = self._forward(
                method, path, headers, json.dumps({**request, "Records": kept}).encode()
            )
            if status != 200:
                return status, reason, response_headers, data
            answer = json.loads(data)
            results = answer["Records"]
            upstream_failed = int(answer.get("FailedRecordCount", 0))
        upstream = iter(results)
        merged = [
            {"ErrorCode": fault.entry_error, "ErrorMessage": "injected by the test proxy"} if fails else next(upstream)
            for fails in failing
        ]
        out = {"FailedRecordCount": sum(failing) + upstream_failed, "Records": merged}
        return status, reason, response_headers, json.dumps(out).encode()


def target_is(operation: str) -> Matcher:
    """Match an AWS JSON-protocol call by its X-Amz-Target operation (e.g. 'GetRecords')."""
    return lambda method, path, headers, body: headers.get("X-Amz-Target", "").endswith("." + operation)
