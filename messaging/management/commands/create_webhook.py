"""Add an alert webhook: ``create_webhook URL [--provider SLUG]``. The signing secret is printed once."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from messaging.alerts.notify import create_webhook
from messaging.models import Provider
from messaging.vault.crypto import VaultError


class Command(BaseCommand):
    help = "Create a webhook endpoint for alert notifications and print its signing secret once."

    def add_arguments(self, parser):
        parser.add_argument(
            "url",
            help="Where alert notifications are POSTed (http or https; a public address unless the host is in "
            "SENDWATCH_ALLOW_PRIVATE_HOSTS)",
        )
        parser.add_argument("--provider", metavar="SLUG", help="Only this provider's alerts (default: every provider)")

    def handle(self, *args, url: str, provider: str | None, **options):
        target = None
        if provider:
            target = Provider.objects.filter(slug=provider).first()
            if target is None:
                raise CommandError(f"unknown provider: {provider}")
        try:
            endpoint, secret = create_webhook(url, target)
        except ValidationError as exc:
            if exc.code == "refused":  # the outbound guard: private, loopback, metadata address...
                raise CommandError(f"refused {url!r}: {' '.join(exc.messages)}") from None
            raise CommandError(f"not an http(s) URL: {url!r}") from None
        except VaultError as exc:  # the master key ring can't open the stored secrets: nothing sealed
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Webhook {endpoint.pk} created for {target.slug if target else 'every provider'}: {url}")
        self.stdout.write(f"Signing secret (shown once, keep it in the receiver's configuration):\n{secret}")
        self.stdout.write("Verify X-Sendwatch-Signature as described in docs/alerts.md.")
