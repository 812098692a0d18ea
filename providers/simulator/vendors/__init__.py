"""The simulated vendors, one module each, looked up by kind through ``providers.registry``.

:data:`VENDORS` maps a kind to its :class:`Vendor`: every vendor the adapter
registry knows, built from the simulated-vendor class the registry pairs with
it. It is a live view, so a vendor added with ``providers.registry.register()``
is served at once and is gone again after ``unregister()``.

:func:`providers.simulator.render.render_error_body` gives the exact body a simulated vendor answers with
for one catalogue code (the demo data and the benchmarks reuse it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from providers.registry import ADAPTERS, get_adapter_class, simulated_vendor_class
from providers.simulator.vendors.base import Ctx, Response, Route, Vendor, dumps, phrase, reason

__all__ = [
    "VENDORS",
    "Ctx",
    "Response",
    "Route",
    "Vendor",
    "dumps",
    "phrase",
    "reason",
]


class _RegisteredVendors(Mapping[str, Vendor]):
    """kind -> simulated vendor for every registered kind, in registry order."""

    def __init__(self) -> None:
        self._built: dict[str, Vendor] = {}

    def __getitem__(self, kind: str) -> Vendor:
        adapter = get_adapter_class(kind)  # UnknownKind, a KeyError, for anything else
        vendor_class = simulated_vendor_class(kind)
        vendor = self._built.get(kind)
        # Rebuilt when a test re-registers the kind with other classes.
        if vendor is None or type(vendor) is not vendor_class or vendor.adapter is not adapter:
            vendor = self._built[kind] = vendor_class(adapter)
        return vendor

    def __iter__(self) -> Iterator[str]:
        # A copy: a test may register or unregister a vendor while a request thread iterates.
        return iter(list(ADAPTERS))

    def __len__(self) -> int:
        return len(ADAPTERS)

    def __repr__(self) -> str:
        return f"<simulated vendors: {', '.join(self)}>"


VENDORS: Mapping[str, Vendor] = _RegisteredVendors()
