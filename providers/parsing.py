"""Reading what vendors send back: bodies, JSON, scalars, headers, waits, and scrubbing secrets.

Every helper here takes untrusted input and never raises on it: a vendor (or a
proxy in front of it) can answer with anything, and the caller must still get
a value it can store. The two size limits live here because they bound what is
parsed and what is kept; the transport reads no more than :data:`PARSE_LIMIT`.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from requests.structures import CaseInsensitiveDict

# Raw bodies are kept for support, but never unbounded: a 10 MB HTML page
# from a misbehaving proxy must not end up in the database.
RAW_BODY_LIMIT = 8 * 1024
# Bodies larger than this are not even handed to the JSON parser.
PARSE_LIMIT = 256 * 1024

# "Retry after 15 seconds" (texting.blue), "Please try again in 1 second(s)" (8x8).
_RETRY_AFTER_IN_TEXT = re.compile(
    r"(?:re)?try\s+(?:again\s+)?(?:after|in)\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.I
)


def decode_body(body: bytes | str | None, limit: int = RAW_BODY_LIMIT) -> str:
    """Text of a body for storage: never raises, replaces undecodable bytes, capped."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body[: limit * 4].decode("utf-8", errors="replace")
    elif not isinstance(body, str):
        body = str(body)
    return body[:limit]


def load_json(body: bytes | str | None) -> Any:
    """Parsed JSON, or None when the body is empty, too large or not JSON."""
    if body is None:
        return None
    if len(body) > PARSE_LIMIT:
        return None
    try:
        return json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return None


def body_format(raw: str, data: Any) -> str:
    """What a body looks like to support: "empty", "json", "html" or "text"."""
    if not raw.strip():
        return "empty"
    if data is not None:
        return "json"
    if raw.lstrip()[:1] == "<":
        return "html"
    return "text"


def as_text(value: Any) -> str | None:
    """A scalar from a vendor body as text; None for missing, containers and bools."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    # No vendor count needs 18+ digits, and int() of "1e99999999" would stall the worker.
    if not number.is_finite() or number.adjusted() >= 18:
        return None
    return int(number)


def parse_retry_after(headers: Mapping[str, str], message: str = "") -> float | None:
    """Seconds to wait: the Retry-After header wins, then a wait stated in the message."""
    raw = headers.get("Retry-After") if headers else None
    if raw is not None:
        raw = str(raw).strip()
        try:
            seconds = float(raw)
            if seconds >= 0 and seconds == seconds and seconds != float("inf"):
                return seconds
        except ValueError:
            parsed = None
            try:
                parsed = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError, OverflowError):
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return max(0.0, parsed.timestamp() - time.time())
    if message:
        match = _RETRY_AFTER_IN_TEXT.search(message)
        if match:
            return float(match.group(1))
    return None


def as_headers(headers: Mapping[str, Any] | None) -> CaseInsensitiveDict:
    """Any header mapping as a case-insensitive dict of strings; junk is skipped."""
    result: CaseInsensitiveDict = CaseInsensitiveDict()
    if not headers:
        return result
    try:
        items = list(headers.items())
    except (AttributeError, TypeError):
        return result
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(name, str) and value is not None:
            result[name] = str(value)
    return result


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """Remove anything that echoes a credential from text kept for support."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text
