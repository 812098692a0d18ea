"""Who is acting: services take an Actor, never an HttpRequest, so web views, management
commands, Celery tasks and API calls reach them the same way and are audited alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from django.http import HttpRequest

Via = Literal["web", "command", "task", "api", "system"]


@dataclass(frozen=True)
class Actor:
    user: Any = None  # an authenticated User, or None for the system
    ip: str | None = None
    via: Via = "system"
    detail: str = ""  # the command's or task's name, or the API token's prefix

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = getattr(request, "user", None)
        return cls(user=user if user is not None and user.is_authenticated else None, ip=client_ip(request), via="web")

    @classmethod
    def command(cls, name: str) -> Actor:
        return cls(via="command", detail=name)

    @classmethod
    def task(cls, name: str) -> Actor:
        return cls(via="task", detail=name)

    @classmethod
    def api_token(cls, prefix: str, ip: str | None = None) -> Actor:
        return cls(via="api", detail=prefix, ip=ip)

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else SYSTEM_NAME

    def describe(self) -> dict[str, str]:
        """How the action came in, for audit details: {"via": "command", "by": "create_api_token"}."""
        return {"via": self.via, "by": self.detail} if self.detail else {"via": self.via}


SYSTEM_NAME = "system"
SYSTEM = Actor()


def client_ip(request: HttpRequest | None) -> str | None:
    """``REMOTE_ADDR`` as the WSGI server saw it: forwarded-for headers can't be verified, so they aren't trusted."""
    if request is None:
        return None
    value = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
