"""List the ingest API's tokens: id, name, prefix, created, last used, revoked. Never a token."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from messaging.models import ApiToken


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


class Command(BaseCommand):
    help = "List API tokens for the ingest API (the tokens themselves are never stored or shown)."

    def handle(self, *args, **options):
        rows = list(ApiToken.objects.order_by("-created_at", "-id"))
        if not rows:
            self.stdout.write("No API tokens. Create one with: manage.py create_api_token NAME")
            return
        table = [("ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED")]
        table += [
            (str(r.pk), r.name, r.prefix, _when(r.created_at), _when(r.last_used_at), _when(r.revoked_at)) for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
