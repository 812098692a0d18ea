"""Poll balances now: ``poll_balances [--provider SLUG ...] [--all]``; with neither, the providers that are due."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from messaging.alerts import balances
from messaging.alerts.runway import runway_for
from messaging.models import Provider


class Command(BaseCommand):
    help = "Poll provider balances and print each reading, status and runway."

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", action="append", default=[], metavar="SLUG", help="Poll this provider; repeatable"
        )
        parser.add_argument("--all", action="store_true", help="Poll every enabled provider, due or not")

    def handle(self, *args, provider: list[str], **options):
        every = options["all"]
        if provider and every:
            raise CommandError("give --provider or --all, not both")
        if provider:
            found = {p.slug: p for p in Provider.objects.filter(slug__in=provider)}
            missing = [slug for slug in provider if slug not in found]
            if missing:
                raise CommandError(f"unknown provider: {', '.join(missing)}")
            targets = [found[slug] for slug in provider]
        elif every:
            targets = list(Provider.objects.filter(enabled=True).order_by("name"))
        else:
            targets = balances.claim_due()
        if not targets:
            self.stdout.write("No provider is due for a poll (use --all to poll every enabled provider).")
            return
        for target in targets:
            snapshot = balances.poll_provider(target)
            target.refresh_from_db(fields=["status", "status_detail"])
            runway = runway_for(target)
            self.stdout.write(f"{target.slug}: {target.status} — {target.status_detail}")
            if snapshot.ok:
                self.stdout.write(f"  {_reading(snapshot)}; {runway.label} ({runway.basis})")
            else:
                self.stdout.write(f"  poll failed: {snapshot.error_code}")


def _reading(snapshot) -> str:
    if snapshot.unavailable:
        return "no real balance in the answer (degraded)"
    if snapshot.limit is not None:
        source = " (counted by Sendwatch)" if snapshot.details.get("used_source") == "sendwatch" else ""
        return f"used {snapshot.used} of {snapshot.limit} {snapshot.currency}{source}"
    return f"balance {snapshot.amount} {snapshot.currency}" + (" (sending blocked)" if snapshot.blocked else "")
