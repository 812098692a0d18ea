"""Revoke an ingest API token: ``revoke_api_token PREFIX_OR_ID``. It is refused from then on."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from messaging.vault import audit, tokens
from messaging.vault.actor import Actor


class Command(BaseCommand):
    help = "Revoke an API token by its id or its prefix (as shown by list_api_tokens)."

    def add_arguments(self, parser):
        parser.add_argument("token", metavar="PREFIX_OR_ID", help="The token's id or its 8-character prefix")

    def handle(self, *args, token: str, **options):
        try:
            row = tokens.find(token)
        except (tokens.TokenNotFound, tokens.AmbiguousToken) as exc:
            raise CommandError(str(exc)) from None
        if not tokens.revoke(row):
            self.stdout.write(f"API token {row.name!r} (id {row.pk}, prefix {row.prefix}) was already revoked.")
            return
        audit.record(Actor.command("revoke_api_token"), "api_token.revoke", row, prefix=row.prefix)
        self.stdout.write(f"Revoked API token {row.name!r} (id {row.pk}, prefix {row.prefix}).")
