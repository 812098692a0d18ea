"""Create a bearer token for the API, printed once.

``create_api_token NAME --providers all|SLUG[,SLUG...] [--scopes events:write[,messages:send]] [--user USERNAME]``

``--providers`` is required: ``all`` (every provider, present and future) is a
choice someone makes, not a default. ``--scopes`` defaults to ``events:write``
(the ingest API). Unknown scopes or slugs are refused and nothing is created.
The token is printed once, to stdout only; Sendwatch keeps its SHA-256 and
nothing else, so it cannot be shown again.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from messaging.vault import audit, tokens
from messaging.vault.actor import Actor


class Command(BaseCommand):
    help = "Create an API token for POST /api/v1/events and print it once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the token is for, e.g. 'billing-service production'")
        parser.add_argument(
            "--providers",
            required=True,
            metavar="all|SLUG[,SLUG...]",
            help="The providers it may act for: 'all' (every provider, also future ones) or slugs, comma-separated",
        )
        parser.add_argument(
            "--scopes",
            default=tokens.EVENTS_WRITE,
            metavar="SCOPE[,SCOPE...]",
            help=f"What it may do, comma-separated: {', '.join(tokens.SCOPES)} (default {tokens.EVENTS_WRITE})",
        )
        parser.add_argument("--user", help="Username recorded as the token's creator")

    def handle(self, *args, name: str, providers: str, scopes: str, user: str | None, **options):
        if not name.strip():
            raise CommandError("NAME must not be blank")
        try:
            scope_list = tokens.parse_scopes(scopes)
        except ValueError as exc:
            raise CommandError(f"--scopes: {exc}") from None
        try:
            chosen = tokens.parse_providers(providers)
        except ValueError as exc:
            raise CommandError(f"--providers: {exc}") from None
        creator = None
        if user:
            model = get_user_model()
            try:
                creator = model.objects.get(**{model.USERNAME_FIELD: user})
            except model.DoesNotExist:
                raise CommandError(f"no user named {user!r}") from None
        row, token = tokens.create_token(name, providers=chosen, scopes=scope_list, created_by=creator)
        audit.record(
            Actor.command("create_api_token"),
            "api_token.create",
            row,
            prefix=row.prefix,
            scopes=row.scopes,
            providers=tokens.describe_providers(row),
        )
        self.stdout.write(
            f"Created API token {row.name!r} (id {row.pk}, prefix {row.prefix}; "
            f"scopes {tokens.describe_scopes(row)}; providers {tokens.describe_providers(row)})."
        )
        self.stdout.write(token)
        self.stdout.write(
            "Store it now: this is the only time it is shown. Sendwatch keeps only a hash and cannot show it again."
        )
