"""Keep secrets out of what flowsql prints: option values, URL credentials and query tokens.

`redact_option` and `redact_url` hide values where options are shown; `scrub` removes known
secret values (and URL credentials) from any text, such as an error body sent back by a remote.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from flowsql.pipeline.model import Pipeline

REDACTED = "[REDACTED]"

# A key naming one of these holds a secret (access_key, secret_access_key, session_token, ...).
_SECRET_WORDS = ("key", "secret", "token", "password", "passwd", "credential", "signature", "auth")
# Query-string parameters that carry a credential in a URL (presigned URLs, SAS tokens, API keys).
_SECRET_PARAMETERS = (
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "code",
    "apikey",
)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_URL_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:)([^/@\s]+)(@)")
# `name = 'value'` or `name = value` where the name holds a secret (a pipeline line, a key=value pair).
_ASSIGNMENT = re.compile(
    r"(?i)\b([A-Za-z0-9_.-]*(?:" + "|".join(_SECRET_WORDS) + r")[A-Za-z0-9_.-]*"
    r"[\"']?\s*[:=]\s*)('[^']*'|\"[^\"]*\"|[^\s,;)&'\"]+)"
)
_SHORTEST_SECRET = 4  # shorter values would blank out ordinary words


# Keys that name a key of the data, not a credential (partition_key, explicit_hash_key, ...).
_DATA_KEY_WORDS = ("partition", "hash", "primary", "sort", "field", "column")


def is_secret_key(key: str) -> bool:
    """Whether an option or parameter of this name holds a secret."""
    lowered = key.lower()
    if lowered in _SECRET_PARAMETERS:
        return True
    words = [w for w in _SECRET_WORDS if w in lowered]
    if words == ["key"] and any(w in lowered for w in _DATA_KEY_WORDS):
        return False
    return bool(words)


def redact_url(url: str) -> str:
    """`url` with a user's password and secret query parameters replaced by [REDACTED]."""
    url = _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + m.group(3), url)
    if "?" not in url:
        return url
    head, _, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and value and is_secret_key(name) else part)
    return head + "?" + "&".join(parts) + hash_mark + fragment


def redact_urls(text: str) -> str:
    """Every URL in `text` redacted (see redact_url)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def redact_option(key: str, value: object) -> object:
    """An option's value as it may be shown: hidden for a secret key, URL secrets hidden otherwise."""
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_urls(value)
    return value


def redact_line(line: str, column: int = 0) -> tuple[str, int]:
    """A pipeline line with secret assignments and URL secrets hidden, and `column` (1-based)
    moved so that a caret under the line still points at the same token."""
    shift = 0

    def hide(match: re.Match[str]) -> str:
        nonlocal shift
        if not is_secret_key(match.group(1).strip(" =:'\"")):
            return match.group(0)
        value = match.group(2)
        quote = value[0] if value[:1] in ("'", '"') else ""
        replacement = match.group(1) + quote + REDACTED + quote
        if column and match.end() < column:
            shift += len(replacement) - len(match.group(0))
        return replacement

    redacted = _ASSIGNMENT.sub(hide, line)
    target = column + shift  # the column in the line as redacted so far

    def hide_url(match: re.Match[str]) -> str:
        nonlocal shift
        safe = redact_url(match.group(0))
        if column and match.end() < target:
            shift += len(safe) - len(match.group(0))
        return safe

    redacted = _URL.sub(hide_url, redacted)
    return redacted, column + shift if column else column


def url_secrets(url: str) -> set[str]:
    """The password and secret query values a URL carries."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.password:
            found.add(parts.password)
        found.update(v for k, v in parse_qsl(parts.query) if is_secret_key(k) and v)
    except ValueError:
        return found
    return found


def secret_values(options: Iterable[tuple[str, object]]) -> set[str]:
    """Every secret among `(key, value)` pairs: values of secret keys, URL passwords and tokens."""
    found: set[str] = set()
    for key, value in options:
        if not isinstance(value, str) or not value:
            continue
        if is_secret_key(key):
            found.add(value)
            found.add(_expanded(value))
            if key.lower().endswith("_env"):  # names the variable that holds the secret
                found.add(os.environ.get(value, ""))
        for url in _URL.findall(value):
            found |= url_secrets(url)
    return {s for s in found if len(s) >= _SHORTEST_SECRET}


def _expanded(value: str) -> str:
    from flowsql.options import expand_environment

    try:
        return str(expand_environment(value))
    except ValueError:  # an unset variable: the value as written is all there is
        return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every known secret value, URL password and URL token replaced by [REDACTED].

    For text that comes back from a remote (an HTTP error body, an exception message), which may
    echo what it was sent."""
    for secret in sorted((s for s in secrets if len(s) >= _SHORTEST_SECRET), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return redact_urls(text)


def scrub_data(value: Any, secrets: Iterable[str]) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string scrubbed (see scrub)."""
    known = list(secrets)
    if isinstance(value, str):
        return scrub(value, known)
    if isinstance(value, dict):
        return {k: scrub_data(v, known) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_data(v, known) for v in value]
    return value


def pipeline_secrets(pipeline: Pipeline) -> set[str]:
    """Every secret a pipeline's options hold (sources, tables, sinks and SET lines)."""
    declarations = [*pipeline.sources.values(), *pipeline.tables.values(), *pipeline.sinks.values()]
    pairs = [(o.key, o.value) for d in declarations for o in d.options]
    pairs += [(o.key, o.value) for o in pipeline.settings]
    return secret_values(pairs)


class ScrubbingFilter(logging.Filter):
    """Scrubs each log record (message and structured fields) of the secrets it is given; the
    set may grow after the filter is attached (secrets are known once the pipeline is read)."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage(), self.secrets)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES and isinstance(value, (str, dict, list)):
                setattr(record, key, scrub_data(value, self.secrets))
        return True


_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
