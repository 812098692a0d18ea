"""Checks shared by the pages whose filters live in the query string (errors, sends, alerts)."""

from __future__ import annotations

from collections.abc import Sequence

from messaging.models import Provider


class BadFilter(ValueError):
    """A filter value a person typed is not valid; the message says which and why."""


def one_of(value: str, allowed: Sequence[str], name: str) -> str:
    """``value`` when blank or allowed, else a BadFilter naming the choices."""
    if value and value not in allowed:
        raise BadFilter(f"{name} must be one of {', '.join(allowed)}")
    return value


def providers_named(slugs: Sequence[str]) -> list[Provider]:
    """The providers with these slugs, or a BadFilter naming the unknown ones."""
    found = list(Provider.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {p.slug for p in found})
    if missing:
        raise BadFilter(f"unknown provider: {', '.join(missing)}")
    return found
