"""Create the demo providers (pointed at the vendor simulator) and generate history.

The alerts and provider statuses are then what the live checks conclude from that history
(messaging.demo.alerts replays it through them), and the simulator mounted in the web
process carries the vendor accounts on from its last readings (messaging.demo.vendor_state).

Also the benchmark's data generator: ``seed_demo --sends 10000000 --days 30``.
"""

from __future__ import annotations

import time
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from messaging.demo import alerts as demo_alerts
from messaging.demo import generator as demo
from messaging.models import Send
from providers.simulator.render import render_error_body


class Command(BaseCommand):
    help = "Create demo providers pointed at the vendor simulator and weeks of realistic send history."

    def add_arguments(self, parser):
        parser.add_argument("--sends", type=int, default=60_000, help="Total sends to generate (default 60,000).")
        parser.add_argument("--days", type=int, default=28, help="Days of history ending now (default 28).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--error-rate", type=float, help="Mean error rate in percent (default: each demo account's own, ~2.6 %%)."
        )
        parser.add_argument(
            "--simulator-url",
            default="http://127.0.0.1:8000/sim",
            help="Where the vendor simulator answers (default: the one mounted in runserver).",
        )
        parser.add_argument("--reset", action="store_true", help="Delete the demo providers' history first.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Only generate history when there are no sends yet."
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(
        self,
        *args,
        sends: int,
        days: int,
        seed: int,
        error_rate: float | None,
        simulator_url: str,
        reset: bool,
        if_empty: bool,
        no_progress: bool,
        **options,
    ):
        if sends < 0:
            raise CommandError("--sends must be zero or more")
        if days < 1:
            raise CommandError("--days must be at least 1")
        providers = demo.ensure_demo_providers(simulator_url)
        self.stdout.write(f"Demo providers: {', '.join(p.slug for p in providers)} (simulator at {simulator_url})")
        if reset:
            demo.clear_history(providers)
        elif Send.objects.filter(provider__in=providers).exists():
            if if_empty:
                self.stdout.write("History already present; nothing generated (use --reset to regenerate).")
                return
            raise CommandError("The demo providers already have sends. Use --reset to regenerate the history.")
        started = time.perf_counter()
        with tqdm(total=sends, unit="send", unit_scale=True, disable=no_progress, file=self.stderr) as bar:
            counts = demo.generate_history(
                providers,
                total_sends=sends,
                days=days,
                seed=seed,
                # Raw bodies come from the simulator's renderer, so demo rows look like real vendor answers.
                render_error_body=render_error_body,
                progress=bar.update,
                error_rate=error_rate / 100 if error_rate is not None else None,
            )
        generated = time.perf_counter() - started
        alerts = demo_alerts.open_demo_alerts(providers)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {counts.sends:,} sends, {counts.attempts:,} attempts, {counts.errors:,} error events and "
                f"{counts.snapshots:,} balance snapshots over {days} days in {generated:.1f}s "
                f"({counts.sends / max(generated, 1e-9):,.0f} sends/s, {settings.DATABASE_VENDOR})."
            )
        )
        states = Counter(alert.state for alert in alerts)
        self.stdout.write(
            f"Replayed the history through the live checks in {elapsed - generated:.1f}s: {len(alerts)} alerts "
            f"({', '.join(f'{n} {state}' for state, n in sorted(states.items())) or 'none'})."
        )
