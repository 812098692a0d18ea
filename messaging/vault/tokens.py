"""Bearer tokens for the ingest API: create, hash, verify, revoke.

A token is ``swk_`` followed by ``secrets.token_urlsafe(32)`` (43 characters).
Only its SHA-256 (hex) is stored, in the unique-indexed ``ApiToken.token_hash``,
so verifying is one indexed lookup of the hash and nothing that could reveal the
token is ever kept. ``prefix`` (the first 8 characters, ``swk_`` + 4) tells
tokens apart for people. The plaintext exists only in the return value of
:func:`create_token`, printed once by ``create_api_token``; nothing here logs it
or puts it in an error message.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging.models import ApiToken

TOKEN_PREFIX = "swk_"
PREFIX_LENGTH = 8
# last_used_at is written at most this often per token: a busy sender does not
# turn every ingest request into an extra UPDATE.
TOUCH_INTERVAL = timedelta(seconds=60)
# What a token can look like: refuses garbage before hashing and querying.
_TOKEN_SHAPE = re.compile(r"swk_[A-Za-z0-9_-]{20,200}")


class TokenError(Exception):
    """Authentication failed. The message is safe to show: it never holds the token."""


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
def create_token(name: str, *, created_by=None) -> tuple[ApiToken, str]:
    """A new active token. Returns the row and the plaintext, which is not stored anywhere."""
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name")
    token = generate_token()
    row = ApiToken.objects.create(
        name=name[:100], prefix=token[:PREFIX_LENGTH], token_hash=hash_token(token), created_by=created_by
    )
    return row, token


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
def authenticate(header: str | None, *, now: datetime | None = None) -> ApiToken:
    """The active token named by an Authorization header, touched; TokenError otherwise."""
    credentials = parse_authorization(header)
    row = ApiToken.objects.filter(token_hash=hash_token(credentials.token)).first()
    if row is None:
        raise TokenError("Bearer token is not recognised")
    if row.revoked_at is not None:
        raise TokenError("Bearer token has been revoked")
    touch(row, now=now)
    return row


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
