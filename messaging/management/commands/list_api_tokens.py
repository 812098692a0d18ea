"""List the API's tokens: id, name, prefix, scopes, providers, created, last used, revoked. Never a token."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from messaging.models import ApiToken
from messaging.vault import tokens


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


class Command(BaseCommand):
    help = "List API tokens for the ingest API (the tokens themselves are never stored or shown)."

    def handle(self, *args, **options):
        rows = list(ApiToken.objects.order_by("-created_at", "-id").prefetch_related("providers"))
        if not rows:
            self.stdout.write(
                "No API tokens. Create one with: manage.py create_api_token NAME --providers all|SLUG,..."
            )
            return
        table = [("ID", "NAME", "PREFIX", "SCOPES", "PROVIDERS", "CREATED", "LAST USED", "REVOKED")]
        table += [
            (
                str(r.pk),
                r.name,
                r.prefix,
                tokens.describe_scopes(r),
                tokens.describe_providers(r),
                _when(r.created_at),
                _when(r.last_used_at),
                _when(r.revoked_at),
            )
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
