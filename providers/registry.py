"""The adapters Sendwatch knows, keyed by ``Provider.kind``.

Adding a vendor: write one module on ``providers.base.BaseAdapter``, its tests,
and one line in ADAPTER_CLASSES below.
"""

from __future__ import annotations

from providers.base import BaseAdapter
from providers.eightxeight import EightByEightAdapter
from providers.telecom23 import Telecom23Adapter
from providers.telephonyio import TelephonyIoAdapter
from providers.telnxo import TelnxoAdapter
from providers.textingblue import TextingBlueAdapter

ADAPTER_CLASSES: tuple[type[BaseAdapter], ...] = (
    Telecom23Adapter,
    TelephonyIoAdapter,
    EightByEightAdapter,
    TelnxoAdapter,
    TextingBlueAdapter,
)

ADAPTERS: dict[str, type[BaseAdapter]] = {cls.kind: cls for cls in ADAPTER_CLASSES}


class UnknownKind(KeyError):
    pass


def get_adapter_class(kind: str) -> type[BaseAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise UnknownKind(f"unknown provider kind {kind!r}; known: {', '.join(ADAPTERS)}") from None


def kind_choices() -> list[tuple[str, str]]:
    """Choices for ``Provider.kind``."""
    return [(cls.kind, cls.label) for cls in ADAPTER_CLASSES]
