"""Vendor adapters: one module per vendor on a shared base. Plain Python, no Django."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import (
    ApiCredential,
    BalanceResult,
    BaseAdapter,
    CatalogueEntry,
    Category,
    NormalizedError,
    OutgoingMessage,
    RecipientResult,
    SendOutcome,
)
from providers.registry import ADAPTERS, UnknownKind, get_adapter_class, kind_choices

__all__ = [
    "ADAPTERS",
    "ApiCredential",
    "BalanceResult",
    "BaseAdapter",
    "CatalogueEntry",
    "Category",
    "NormalizedError",
    "OutgoingMessage",
    "RecipientResult",
    "SendOutcome",
    "UnknownKind",
    "get_adapter_class",
    "kind_choices",
    "parse_error",
]


def parse_error(
    kind: str,
    http_status: int | None,
    body: bytes | str | None,
    headers: Mapping[str, Any] | None = None,
) -> NormalizedError:
    """Normalize one vendor response of ``kind``. Never raises for any body or headers."""
    return get_adapter_class(kind).parse_error(http_status, body, headers)
