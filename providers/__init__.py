"""Vendor adapters: one module per vendor on a shared base. Plain Python, no Django.

This package's namespace is the public face of ``providers``: the value types
(:mod:`providers.types`), the adapter base (:mod:`providers.base`), the registry
of vendors (:mod:`providers.registry`) and :func:`parse_error` for a stored answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import BaseAdapter
from providers.registry import (
    ADAPTERS,
    UnknownKind,
    get_adapter_class,
    kind_choices,
    register,
    registered,
    unregister,
)
from providers.types import (
    ApiCredential,
    BalanceResult,
    CatalogueEntry,
    Category,
    NormalizedError,
    OutgoingMessage,
    RecipientResult,
    SendOutcome,
)

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
    "register",
    "registered",
    "unregister",
]


def parse_error(
    kind: str,
    http_status: int | None,
    body: bytes | str | None,
    headers: Mapping[str, Any] | None = None,
) -> NormalizedError:
    """Normalize one vendor response of ``kind``. Never raises for any body or headers."""
    return get_adapter_class(kind).parse_error(http_status, body, headers)
