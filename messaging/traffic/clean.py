"""Vendor text made storable: the one cleaner every writer of vendor answers goes through.

PostgreSQL's text and jsonb refuse NUL (U+0000) and its encoder refuses lone surrogates
(a vendor's JSON may escape either, ``"\\ud800"``); undecodable bytes, over-long fields and
non-JSON values in details would lose the whole row. Each is replaced, never dropped: a
vendor answer must always become its error event (issue "Trust": nothing dropped).
"""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from messaging.models import ErrorEvent
from providers import NormalizedError

REPLACEMENT = "\ufffd"
# A str can hold surrogate code points (JSON "\\ud800", bytes decoded with surrogateescape); UTF-8 can't.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _column_size(name: str) -> int:
    field = ErrorEvent._meta.get_field(name)
    size = getattr(field, "max_length", None)
    if not isinstance(size, int):  # fails at import if the column stops being a sized CharField
        raise TypeError(f"ErrorEvent.{name} has no max_length")
    return size


# What each NormalizedError text may hold: its ErrorEvent column's size (message is a TextField,
# kept to 2,000 characters by choice; the raw body has its own cap below).
LIMITS = {
    "provider_code": _column_size("error_code"),
    "message": 2000,
    "param": _column_size("param"),
    "request_id": _column_size("request_id"),
}
RAW_BODY_LIMIT = 64 * 1024
MAX_DEPTH = 20


def text(value: Any, limit: int | None = None) -> str:
    """``value`` as text PostgreSQL stores: bytes decoded as UTF-8 (bad bytes replaced), no NUL, no lone surrogate."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    elif not isinstance(value, str):
        value = str(value)
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = LONE_SURROGATE.sub(REPLACEMENT, value)
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def json_value(value: Any, depth: int = 0) -> Any:
    """Plain JSON of clean text: Decimals and dates as strings, anything else as its text."""
    if depth > MAX_DEPTH:
        return text(repr(value), 200)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else text(value)
    if isinstance(value, str | bytes | bytearray):
        return text(value)
    if isinstance(value, Decimal):
        return text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {text(key): json_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(item, depth + 1) for item in value]
    return text(value)


def error(value: NormalizedError) -> NormalizedError:
    """A copy of ``value`` whose every text fits its column and every detail is plain JSON."""
    return dataclasses.replace(
        value,
        provider_code=text(value.provider_code, LIMITS["provider_code"]),
        message=text(value.message, LIMITS["message"]),
        param=text(value.param, LIMITS["param"]) if value.param is not None else None,
        request_id=text(value.request_id, LIMITS["request_id"]) if value.request_id is not None else None,
        details=json_value(value.details) if isinstance(value.details, dict) else {"value": json_value(value.details)},
        raw_body=text(value.raw_body, RAW_BODY_LIMIT),
    )
