"""Create a bearer token for the ingest API: ``create_api_token NAME [--user USERNAME]``.

The token is printed once, to stdout only; Sendwatch keeps its SHA-256 and
nothing else, so it cannot be shown again.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from messaging.vault import audit, tokens


class Command(BaseCommand):
    help = "Create an API token for POST /api/v1/events and print it once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the token is for, e.g. 'billing-service production'")
        parser.add_argument("--user", help="Username recorded as the token's creator")

    def handle(self, *args, name: str, user: str | None, **options):
        if not name.strip():
            raise CommandError("NAME must not be blank")
        creator = None
        if user:
            model = get_user_model()
            try:
                creator = model.objects.get(**{model.USERNAME_FIELD: user})
            except model.DoesNotExist:
                raise CommandError(f"no user named {user!r}") from None
        row, token = tokens.create_token(name, created_by=creator)
        audit.record(None, "api_token.create", row, prefix=row.prefix)
        self.stdout.write(f"Created API token {row.name!r} (id {row.pk}, prefix {row.prefix}).")
        self.stdout.write(token)
        self.stdout.write(
            "Store it now: this is the only time it is shown. Sendwatch keeps only a hash and cannot show it again."
        )
