"""The audit log: who did what to which object, from where. Never holds a secret.

``record(request_or_none, action, target, **details)`` is the one way rows are
written. The actor and IP come from the request (``None`` for the system, e.g.
a beat task); the IP is ``REMOTE_ADDR`` as the WSGI server saw it (behind a
proxy that is the proxy's address: Sendwatch does not trust forwarded-for
headers it cannot verify). Details must be plain JSON, and keys that name
secret material are refused outright so a careless call fails loudly in tests
rather than writing a key into the log.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.db import models
from django.http import HttpRequest

from messaging.models import AuditEntry

SYSTEM_ACTOR = "system"
# Detail names that could only hold secret material.
FORBIDDEN_DETAILS = frozenset({"key", "api_key", "secret", "password", "token", "ciphertext", "plaintext"})


def record(request: HttpRequest | None, action: str, target: models.Model | None = None, **details: Any) -> AuditEntry:
    bad = FORBIDDEN_DETAILS.intersection(name.lower() for name in details)
    if bad:
        raise ValueError(f"audit details must not carry secret material: {', '.join(sorted(bad))}")
    user = getattr(request, "user", None) if request is not None else None
    actor = user if user is not None and user.is_authenticated else None
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=(actor.get_username() if actor else SYSTEM_ACTOR)[:150],
        action=action[:60],
        target_type=target._meta.label_lower[:60] if target is not None else "",
        target_id=str(target.pk)[:60] if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip=client_ip(request),
        details=details,
    )


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    value = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
