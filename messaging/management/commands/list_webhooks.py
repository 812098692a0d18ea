"""List alert webhooks (never their secrets) with their delivery record."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db.models import Count, Q

from messaging.models import Notification, WebhookEndpoint


class Command(BaseCommand):
    help = "List webhook endpoints: id, provider, URL, secret hint, enabled, and notifications sent / failed."

    def handle(self, *args, **options):
        endpoints = (
            WebhookEndpoint.objects.select_related("provider")
            .annotate(
                sent=Count("notification", filter=Q(notification__state=Notification.State.SENT)),
                failed=Count("notification", filter=Q(notification__state=Notification.State.FAILED)),
                pending=Count("notification", filter=Q(notification__state=Notification.State.PENDING)),
            )
            .order_by("pk")
        )
        if not endpoints:
            self.stdout.write("No webhooks. Add one with: manage.py create_webhook URL [--provider SLUG]")
            return
        for endpoint in endpoints:
            scope = endpoint.provider.slug if endpoint.provider else "all providers"
            state = "enabled" if endpoint.enabled else "disabled"
            self.stdout.write(
                f"{endpoint.pk}\t{scope}\t{endpoint.url}\tsecret …{endpoint.secret_hint or '????'}\t{state}\t"
                f"sent {endpoint.sent}, pending {endpoint.pending}, failed {endpoint.failed}"
            )
