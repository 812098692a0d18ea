"""The vendors Sendwatch knows, keyed by ``Provider.kind``, each with its adapter and its simulated twin.

Adding a vendor: its adapter module (``providers/<name>.py``, on
:class:`providers.base.BaseAdapter`), its simulated twin
(``providers/simulator/vendors/<name>.py``), its tests, and one line in
BUILTIN_VENDORS below. Everything else (``Provider.kind`` choices, the
simulator's routes, kinds and money-or-quota accounts) is derived from here.

Tests add a vendor for a while with :func:`registered` (or :func:`register` /
:func:`unregister`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from providers.base import BaseAdapter

# One line per vendor: the adapter class and the simulator's fake of that vendor, as
# "module.Class" paths. The simulator path is only imported when the simulator asks for it,
# so running Sendwatch never loads the simulator.
BUILTIN_VENDORS: tuple[tuple[str, str], ...] = (
    ("providers.telecom23.Telecom23Adapter", "providers.simulator.vendors.telecom23.Telecom23"),
    ("providers.telephonyio.TelephonyIoAdapter", "providers.simulator.vendors.telephonyio.TelephonyIo"),
    ("providers.eightxeight.EightByEightAdapter", "providers.simulator.vendors.eightxeight.EightByEight"),
    ("providers.telnxo.TelnxoAdapter", "providers.simulator.vendors.telnxo.Telnxo"),
    ("providers.textingblue.TextingBlueAdapter", "providers.simulator.vendors.textingblue.TextingBlue"),
)

# Mutated in place by register() / unregister(): callers hold references to these dicts.
ADAPTERS: dict[str, type[BaseAdapter]] = {}
# kind -> the simulated vendor class, or its "module.Class" path until the simulator first asks.
SIMULATED_VENDORS: dict[str, type | str] = {}


class UnknownKind(KeyError):
    pass


def import_string(path: str) -> type:
    """The class at ``"package.module.Class"``."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def register(adapter: type[BaseAdapter] | str, simulated_vendor: type | str) -> type[BaseAdapter]:
    """Add a vendor: its adapter and the simulator's fake of it, as classes or "module.Class" paths."""
    adapter_class: type[BaseAdapter] = import_string(adapter) if isinstance(adapter, str) else adapter
    kind = adapter_class.kind
    if kind in ADAPTERS:
        raise ValueError(f"provider kind {kind!r} is already registered ({ADAPTERS[kind].__qualname__})")
    ADAPTERS[kind] = adapter_class
    SIMULATED_VENDORS[kind] = simulated_vendor
    return adapter_class


def unregister(kind: str) -> None:
    """Forget a vendor, adapter and simulated twin alike."""
    if kind not in ADAPTERS:
        raise UnknownKind(f"unknown provider kind {kind!r}")
    del ADAPTERS[kind]
    SIMULATED_VENDORS.pop(kind, None)


@contextmanager
def registered(adapter: type[BaseAdapter] | str, simulated_vendor: type | str) -> Iterator[type[BaseAdapter]]:
    """A vendor known only inside the ``with`` block, so a test's toy vendor cannot leak into the next test."""
    adapter_class = register(adapter, simulated_vendor)
    try:
        yield adapter_class
    finally:
        unregister(adapter_class.kind)


def get_adapter_class(kind: str) -> type[BaseAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise UnknownKind(f"unknown provider kind {kind!r}; known: {', '.join(ADAPTERS)}") from None


def simulated_vendor_class(kind: str) -> type:
    """The simulator's fake of ``kind`` (its module is imported on first use)."""
    get_adapter_class(kind)  # UnknownKind for a kind nobody registered
    found = SIMULATED_VENDORS[kind]
    if isinstance(found, str):
        found = SIMULATED_VENDORS[kind] = import_string(found)
    return found


def kind_choices() -> list[tuple[str, str]]:
    """Choices for ``Provider.kind``."""
    return [(cls.kind, cls.label) for cls in ADAPTERS.values()]


for _adapter, _simulated_vendor in BUILTIN_VENDORS:
    register(_adapter, _simulated_vendor)
del _adapter, _simulated_vendor
