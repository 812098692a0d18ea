"""The audit log: who did what to which object, from where. Never holds a secret.

``record(actor, action, target, **details)`` is the one way rows are written.
The Actor (messaging.vault.actor) says who and how: a user from the web with the
IP the WSGI server saw, a management command, a task or an API token; how it came
in is kept in the details as ``via`` (and ``by``). Details must be plain JSON, and keys that name
secret material are refused outright so a careless call fails loudly in tests
rather than writing a key into the log.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from messaging.models import AuditEntry
from messaging.vault.actor import Actor

# Detail names that could only hold secret material.
FORBIDDEN_DETAILS = frozenset({"key", "api_key", "secret", "password", "token", "ciphertext", "plaintext"})


def record(actor: Actor, action: str, target: models.Model | None = None, **details: Any) -> AuditEntry:
    bad = FORBIDDEN_DETAILS.intersection(name.lower() for name in details)
    if bad:
        raise ValueError(f"audit details must not carry secret material: {', '.join(sorted(bad))}")
    return AuditEntry.objects.create(
        actor=actor.user,
        actor_name=actor.name[:150],
        action=action[:60],
        target_type=target._meta.label_lower[:60] if target is not None else "",
        target_id=str(target.pk)[:60] if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip=actor.ip,
        details={**details, **actor.describe()},
    )
