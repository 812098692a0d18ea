"""Bearer tokens for the ingest API: create, hash, verify, revoke.

A token is ``swk_`` followed by ``secrets.token_urlsafe(32)`` (43 characters).
Only its SHA-256 (hex) is stored, in the unique-indexed ``ApiToken.token_hash``,
so verifying is one indexed lookup of the hash and nothing that could reveal the
token is ever kept. ``prefix`` (the first 8 characters, ``swk_`` + 4) tells
tokens apart for people. The plaintext exists only in the return value of
:func:`create_token`, printed once by ``create_api_token``; nothing here logs it
or puts it in an error message.

What a token may do (docs/api.md "Authentication"): its ``scopes`` (one of
:data:`SCOPES` each) and its providers — ``all_providers`` or the listed ones;
a token made without either choice is refused. :func:`authenticate` also
applies the two rate limits of :mod:`messaging.vault.ratelimit`: per token
(``SENDWATCH_API_BURST`` requests per ``BURST / SENDWATCH_API_RATE`` seconds,
sliding) and, for failed attempts (no, malformed, unknown or revoked token), per
client address (``SENDWATCH_API_AUTH_FAILURE_LIMIT`` per
``SENDWATCH_API_AUTH_FAILURE_WINDOW_SECONDS``); past either it raises
:class:`Throttled`, whose ``retry_after`` the API answers as ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging.models import ApiToken, Provider
from messaging.vault import ratelimit

TOKEN_PREFIX = "swk_"
PREFIX_LENGTH = 8
# last_used_at is written at most this often per token: a busy sender does not
# turn every ingest request into an extra UPDATE.
TOUCH_INTERVAL = timedelta(seconds=60)
# What a token can look like: refuses garbage before hashing and querying.
_TOKEN_SHAPE = re.compile(r"swk_[A-Za-z0-9_-]{20,200}")

EVENTS_WRITE = "events:write"
MESSAGES_SEND = "messages:send"
# Every scope a token can hold, and what it allows.
SCOPES = {
    EVENTS_WRITE: "report vendor responses: POST /api/v1/events",
    MESSAGES_SEND: "send messages and read them back: POST /api/v1/messages, GET /api/v1/messages/<id>",
}
ALL_PROVIDERS: Final = "all"
Providers = Literal["all"] | Iterable[Provider]


class TokenError(Exception):
    """Authentication failed. The message is safe to show: it never holds the token."""


class Throttled(Exception):
    """Too many requests: from this token, or failed attempts from this address. Wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(Exception):
    """A valid token that may not do this. ``path`` is what is at fault: ``Authorization`` (scope) or ``provider``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class TokenNotFound(LookupError):
    pass


class AmbiguousToken(LookupError):
    pass


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@sensitive_variables()  # error reports must not show the token
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@sensitive_variables()  # error reports must not show the token
def create_token(
    name: str, *, providers: Providers, scopes: Iterable[str] = (EVENTS_WRITE,), created_by=None
) -> tuple[ApiToken, str]:
    """A new active token. Returns the row and the plaintext, which is not stored anywhere.

    ``providers`` is :data:`ALL_PROVIDERS` (every provider, present and future) or saved
    Provider rows — a choice every caller makes; ``scopes`` are names from :data:`SCOPES`.
    ValueError for a blank name, an unknown scope, or no scope or provider at all.
    """
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name")
    scope_list = check_scopes(scopes)
    if isinstance(providers, str):
        if providers != ALL_PROVIDERS:
            raise ValueError(f"providers must be {ALL_PROVIDERS!r} or Provider rows, not {providers!r}")
        all_providers, chosen = True, []
    else:
        all_providers, chosen = False, list(dict.fromkeys(providers))
        if not chosen:
            raise ValueError(f"a token needs at least one provider, or {ALL_PROVIDERS!r}")
    token = generate_token()
    with transaction.atomic():
        row = ApiToken.objects.create(
            name=name[:100],
            prefix=token[:PREFIX_LENGTH],
            token_hash=hash_token(token),
            created_by=created_by,
            scopes=scope_list,
            all_providers=all_providers,
        )
        row.providers.set(chosen)
    return row, token


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, each once, in order; ValueError naming any unknown one, or for none at all."""
    names = list(dict.fromkeys(scopes))
    known = ", ".join(SCOPES)
    if not names:
        raise ValueError(f"a token needs at least one scope (known: {known})")
    unknown = [name for name in names if name not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {', '.join(repr(name) for name in unknown)} (known: {known})")
    return names


def parse_scopes(text: str) -> list[str]:
    """``"events:write,messages:send"`` -> the checked list (see :func:`check_scopes`)."""
    return check_scopes(part.strip() for part in text.split(",") if part.strip())


def parse_providers(text: str) -> Providers:
    """``"all"`` or comma-separated slugs -> ALL_PROVIDERS or the Provider rows; ValueError naming unknown slugs."""
    slugs = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not slugs:
        raise ValueError(f"give {ALL_PROVIDERS!r} or provider slugs separated by commas")
    if ALL_PROVIDERS in slugs:
        if len(slugs) > 1:
            raise ValueError(f"{ALL_PROVIDERS!r} already means every provider: give it alone, or only slugs")
        return ALL_PROVIDERS
    found = {provider.slug: provider for provider in Provider.objects.filter(slug__in=slugs)}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        known = ", ".join(Provider.objects.order_by("slug").values_list("slug", flat=True)) or "none yet"
        names = ", ".join(repr(slug) for slug in unknown)
        raise ValueError(f"no provider has the slug {names} (known: {known})")
    return [found[slug] for slug in slugs]


def describe_providers(row: ApiToken) -> str:
    """``all`` or the token's provider slugs, comma-separated (uses prefetched providers when there are some)."""
    if row.all_providers:
        return ALL_PROVIDERS
    return ",".join(sorted(provider.slug for provider in row.providers.all())) or "(none)"


def describe_scopes(row: ApiToken) -> str:
    return ",".join(row.scopes or []) or "(none)"


@dataclass(frozen=True)
class BearerCredentials:
    token: str

    def __repr__(self) -> str:  # keeps the token out of tracebacks
        return "BearerCredentials(…)"

    __str__ = __repr__


@sensitive_variables()  # error reports must not show the token
def parse_authorization(header: str | None) -> BearerCredentials:
    """The token of an ``Authorization: Bearer <token>`` header; TokenError otherwise."""
    if not header or not header.strip():
        raise TokenError("Authorization header missing: send 'Authorization: Bearer <token>'")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TokenError("Authorization must use the Bearer scheme: 'Authorization: Bearer <token>'")
    value = value.strip()
    if not _TOKEN_SHAPE.fullmatch(value):
        raise TokenError("Bearer token is malformed: Sendwatch tokens start with 'swk_'")
    return BearerCredentials(value)


@sensitive_variables()  # error reports must not show the token
def authenticate(header: str | None, *, ip: str | None = None, now: datetime | None = None) -> ApiToken:
    """The active token named by an Authorization header, within its rate limit, touched.

    TokenError when there is no valid token (counted against ``ip``); Throttled when
    ``ip`` has failed too often lately (checked first: a valid token does not help
    then), or the token is past its own rate limit.
    """
    failures_bucket = f"api-auth-failures:{ip or 'unknown'}"
    failure_limit = settings.SENDWATCH_API_AUTH_FAILURE_LIMIT
    failure_window = settings.SENDWATCH_API_AUTH_FAILURE_WINDOW_SECONDS
    blocked = ratelimit.peek(failures_bucket, failure_limit, failure_window)
    if not blocked.allowed:
        raise Throttled(
            f"Too many failed token attempts from this address ({failure_limit} in {failure_window} s); "
            f"retry in {blocked.retry_after} s.",
            blocked.retry_after,
        )
    try:
        row = _active_token(header)
    except TokenError:
        ratelimit.count(failures_bucket, failure_window)
        raise
    check_rate(row)
    touch(row, now=now)
    return row


@sensitive_variables()  # error reports must not show the token
def _active_token(header: str | None) -> ApiToken:
    credentials = parse_authorization(header)
    row = ApiToken.objects.filter(token_hash=hash_token(credentials.token)).first()
    if row is None:
        raise TokenError("Bearer token is not recognised")
    if row.revoked_at is not None:
        raise TokenError("Bearer token has been revoked")
    return row


def check_rate(row: ApiToken) -> None:
    """Count one request of ``row``: Throttled past SENDWATCH_API_BURST per BURST / SENDWATCH_API_RATE seconds."""
    rate, burst = settings.SENDWATCH_API_RATE, settings.SENDWATCH_API_BURST
    if rate <= 0 or burst <= 0:
        return
    window = burst / rate
    decision = ratelimit.hit(f"api-token:{row.pk}", burst, window)
    if not decision.allowed:
        raise Throttled(
            f"Rate limit of this token reached ({burst} requests per {window:g} s, {rate:g}/s); "
            f"retry in {decision.retry_after} s.",
            decision.retry_after,
        )


def require_scope(row: ApiToken, scope: str) -> None:
    """Forbidden unless the token holds ``scope``."""
    if scope not in (row.scopes or []):
        raise Forbidden("Authorization", f"This token lacks the scope {scope!r} ({SCOPES.get(scope, scope)}).")


def require_provider(row: ApiToken, slug: str) -> None:
    """Forbidden unless the token may act for the provider ``slug`` (whether or not it exists: no probing)."""
    if row.all_providers or row.providers.filter(slug=slug).exists():
        return
    raise Forbidden("provider", f"This token may not act for provider {slug!r}; ask a Sendwatch admin for access.")


def touch(row: ApiToken, *, now: datetime | None = None) -> None:
    """Record use, at most once per TOUCH_INTERVAL (an UPDATE only when it is due)."""
    now = now or timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now


@sensitive_variables()  # error reports must not show the token
def find(prefix_or_id: str) -> ApiToken:
    """One token by its id (digits) or its prefix; TokenNotFound or AmbiguousToken otherwise."""
    value = prefix_or_id.strip()
    if value.isdigit():
        matches = list(ApiToken.objects.filter(pk=int(value)))
    elif len(value) > PREFIX_LENGTH and _TOKEN_SHAPE.fullmatch(value):
        # Someone pasted the whole token: find it by its hash, and never echo it back.
        matches = list(ApiToken.objects.filter(token_hash=hash_token(value)))
    else:
        matches = list(ApiToken.objects.filter(prefix=value)) if value else []
    # Never echo more than a prefix: the argument may be a whole (mistyped) token.
    value = value if len(value) <= PREFIX_LENGTH else value[:PREFIX_LENGTH] + "…"
    if not matches:
        raise TokenNotFound(f"No API token has the id or prefix {value!r}")
    if len(matches) > 1:
        ids = ", ".join(str(row.pk) for row in matches)
        raise AmbiguousToken(f"{len(matches)} API tokens share the prefix {value!r} (ids {ids}); revoke by id instead")
    return matches[0]


def revoke(row: ApiToken, *, now: datetime | None = None) -> bool:
    """Revoke one token. False when it was already revoked (its revocation time is kept)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = now or timezone.now()
    ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=row.revoked_at)
    return True


def revoke_queryset(tokens: QuerySet[ApiToken], *, now: datetime | None = None) -> int:
    """Revoke every still-active token in ``tokens``; the number revoked."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=now or timezone.now())
