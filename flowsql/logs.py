"""Logging for the `flowsql` logger: plain or JSON lines on stderr, with secrets redacted before
any handler formats a record, and repeated warnings (late records) summed instead of flooding."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

LOGGER = "flowsql"
REDACTED = "[REDACTED]"

# AWS access key ids, and the value after any key=value / "key": "value" / header naming a secret.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
_SECRET_FIELD = re.compile(
    r"(?i)((?:aws_)?(?:secret[_-]?access[_-]?key|secret[_-]?key|session[_-]?token|security[_-]?token|"
    r"access[_-]?key[_-]?id|password|"
    r"passwd|api[_-]?key|token|credentials?|authorization|x-amz-security-token|x-amz-signature|signature)"
    r"[\"']?\s*[:=]\s*[\"']?)((?:bearer |basic |aws4-hmac-sha256 )?[^\s\"',;&}]+)"
)
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s]+)(@)")
# Values of these environment variables are secrets wherever they turn up in a message.
_SECRET_ENVIRONMENT = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID")
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(text: str) -> str:
    """`text` with credentials replaced by [REDACTED]."""
    for variable in _SECRET_ENVIRONMENT:
        value = os.environ.get(variable, "")
        if len(value) >= 8:  # short values would blank out ordinary words
            text = text.replace(value, REDACTED)
    text = _ACCESS_KEY_ID.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    return _SECRET_FIELD.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Renders each record's message (and exception text) once, redacted, so no formatter or
    handler downstream ever sees the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and any structured fields passed in `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, separators=(",", ":"))


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time, so a live panel that wraps stderr can
    print log lines above itself."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> logging.Logger:
    """Send the flowsql logger to stderr in `log_format` ("text" or "json"), redacted."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = _CurrentStderr()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("flowsql: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


class LateRecordLog:
    """Warns about records dropped behind the watermark: the first drop at once, then at most one
    summed line per interval, so a disordered stream does not drown the log."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        # (source, query target, error sink) -> records not logged yet, and the latest reason
        self.pending: dict[tuple[str, str, str | None], tuple[int, str]] = {}
        self.last_logged: float | None = None

    def dropped(self, source: str, target: str, count: int, window_note: str, error_sink: str | None) -> None:
        key = (source, target, error_sink)
        self.pending[key] = (self.pending.get(key, (0, ""))[0] + count, window_note)
        now = time.monotonic()
        if self.last_logged is None or now - self.last_logged >= self.interval:
            self.flush()
            self.last_logged = now

    def flush(self) -> None:
        """Log every count not logged yet (at the end of a run too): the lines add up to the
        summary's late count."""
        for (source, target, error_sink), (count, window_note) in self.pending.items():
            where = f"sink '{error_sink}'s error output" if error_sink else "nowhere (no sink reads this source)"
            self.logger.warning(
                "source '%s': dropped %d late records for '%s' (%s); they went to %s. To keep such records, "
                "raise the source's allowed_lateness or the WATERMARK delay",
                source,
                count,
                target,
                window_note,
                where,
                extra={"event": "late_records", "source": source, "records": count, "query_target": target},
            )
        self.pending = {}


class QueryFailureLog:
    """Warns about records a query failed on (sent to the error output): the first at once, then
    at most one summed line per interval, so a stream of bad records does not drown the log."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self.pending = 0
        self.last_logged: float | None = None

    def failed(self, source: str, query: str, count: int, reason: str) -> None:
        self.pending += count
        now = time.monotonic()
        if self.last_logged is not None and now - self.last_logged < self.interval:
            return
        self.logger.warning(
            "source '%s': %d records made %s fail (the last: %s); they went to the error output",
            source,
            self.pending,
            query,
            reason,
            extra={"event": "query_failed_records", "source": source, "records": self.pending},
        )
        self.pending = 0
        self.last_logged = now
