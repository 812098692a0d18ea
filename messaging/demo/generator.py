"""Demo and benchmark data: providers pointed at the simulator, and weeks of history.

History is generated hour by hour in time order (so ids rise with time, as in
production) and written with bulk COPY. Error codes are drawn from each
vendor's catalogue, which is built from the vendors' own error references.

Every send that reached the vendor has its SendAttempt row. Money, plan and key errors
(which open alerts at once in production) are not drawn at random: they happen only in
the demo's story, where the rest of the data agrees with them — a campaign burst at 8x8
(the error spike) and Telnxo's API key expiring near the end, after which its sends and
its balance poll are refused. ``messaging.demo.alerts`` then replays the history through
the live checks.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from messaging.alerts import lifecycle
from messaging.models import (
    Alert,
    BalanceSnapshot,
    Channel,
    Credential,
    ErrorEvent,
    ErrorRollup,
    Provider,
    ProviderStatus,
    Route,
    RouteStep,
    Send,
    SendAttempt,
    SendRollup,
    SendStatus,
    recipient_key,
)
from messaging.traffic import rollups
from messaging.traffic.bulk import bulk_insert, indexes_deferred, next_ids, reset_sequence
from messaging.vault.crypto import seal
from providers import ApiCredential, Category, get_adapter_class, parse_error


@dataclass(frozen=True)
class DemoAccount:
    slug: str
    name: str
    kind: str
    currency: str
    share: float  # of all traffic
    base_error_rate: float
    cost_per_message: Decimal = Decimal("0")
    start_balance: Decimal = Decimal("0")
    monthly_quota: int = 0
    country_prefix: str = "+44"
    channels: tuple[tuple[str, float], ...] = ((Channel.SMS, 1.0),)
    options: tuple[tuple[str, str], ...] = ()
    sender: str = "Acme"


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "23telecom-eu",
        "23 Telecom EU",
        "23telecom",
        "EUR",
        0.34,
        0.025,
        cost_per_message=Decimal("0.0350"),
        start_balance=Decimal("900"),
        country_prefix="+4474001",
    ),
    DemoAccount(
        "telephonyio",
        "Telephony.io Verify",
        "telephonyio",
        "USD",
        0.12,
        0.03,
        cost_per_message=Decimal("0.0500"),
        start_balance=Decimal("250"),
        country_prefix="+614000",
        channels=((Channel.VERIFY, 0.7), (Channel.SMS, 0.3)),
    ),
    DemoAccount(
        "8x8-apac",
        "8x8 APAC",
        "8x8",
        "USD",
        0.28,
        0.02,
        cost_per_message=Decimal("0.0280"),
        start_balance=Decimal("1500"),
        country_prefix="+65900",
        options=(("account_id", "6b1f2c3d-0000-4000-8000-00000000a8a8"), ("subaccount_id", "acme_hq")),
    ),
    DemoAccount(
        "telnxo-in",
        "Telnxo India",
        "telnxo",
        "messages",
        0.18,
        0.04,
        monthly_quota=60000,
        country_prefix="+9198765",
        channels=((Channel.SMS, 0.85), (Channel.WHATSAPP, 0.15)),
    ),
    DemoAccount(
        "textingblue",
        "texting.blue iMessage",
        "textingblue",
        "messages",
        0.08,
        0.015,
        monthly_quota=10000,
        country_prefix="+141555",
        channels=((Channel.IMESSAGE, 1.0),),
        sender="+14155550199",
    ),
)

# How often each kind of failure shows up in real traffic (relative weights).
CATEGORY_WEIGHTS: dict[Category, float] = {
    Category.VALIDATION: 30,
    Category.COMPLIANCE: 14,
    Category.RATE_LIMIT: 14,
    Category.SERVER: 8,
    Category.UNAVAILABLE: 5,
    Category.TIMEOUT: 3,
    Category.BALANCE: 2,
    Category.QUOTA: 2,
    Category.AUTH: 1,
    Category.PERMISSION: 1,
    Category.NOT_FOUND: 0.5,
    Category.CONFLICT: 0.5,
}

DEMO_BODIES = (
    "Your verification code is 482913. It expires in 10 minutes.",
    "Your order #A1043 has shipped and arrives tomorrow.",
    "Reminder: your appointment is on Tuesday at 10:30.",
    "Your password was changed. If this was not you, call us.",
)
BODY_HASHES = tuple(hashlib.sha256(b.encode()).hexdigest() for b in DEMO_BODIES)
# Vendor latencies in ms, log-normal around 200 ms, drawn once from one seeded generator.
_latency_rng = random.Random(1)
LATENCIES = tuple(int(_latency_rng.lognormvariate(5.3, 0.45)) for _ in range(4096))


def simulator_base_url(simulator_root: str, kind: str, slug: str) -> str:
    """The URL of one simulated account: the vendor's own API prefix under /{kind}/{slug}."""
    prefix = urlsplit(get_adapter_class(kind).default_base_url).path.rstrip("/")
    return f"{simulator_root.rstrip('/')}/{kind}/{slug}{prefix}"


def demo_api_key(account: DemoAccount) -> str:
    return f"demo_{account.kind}_{hashlib.sha256(account.slug.encode()).hexdigest()[:24]}"


@transaction.atomic
def ensure_demo_providers(simulator_root: str) -> list[Provider]:
    providers = []
    for account in DEMO_ACCOUNTS:
        provider, _ = Provider.objects.update_or_create(
            slug=account.slug,
            defaults={
                "name": account.name,
                "kind": account.kind,
                "base_url": simulator_base_url(simulator_root, account.kind, account.slug),
                "currency": account.currency,
                "options": dict(account.options),
                "default_sender": account.sender,
                "balance_warning": account.start_balance * Decimal("0.25") if account.start_balance else None,
                "balance_critical": account.start_balance * Decimal("0.08") if account.start_balance else None,
            },
        )
        now = timezone.now()
        if not provider.credentials.filter(state=Credential.State.ACTIVE).exists():
            sealed = seal(ApiCredential(demo_api_key(account)))
            provider.credentials.create(
                label="Demo key",
                ciphertext=sealed.ciphertext,
                key_id=sealed.key_id,
                fingerprint=sealed.fingerprint,
                hint=sealed.hint,
                state=Credential.State.ACTIVE,
                activated_at=now,
            )
        # The demo's keys belong to its own simulator: bound to wherever it runs now (another
        # PORT moves the origin), and shown as verified when they were bound, as a key an admin
        # activated would be (a restart on the same origin keeps what its last check said).
        demo_keys = provider.credentials.filter(state=Credential.State.ACTIVE, label="Demo key")
        demo_keys.exclude(verified_origin=provider.api_origin).update(
            verified_origin=provider.api_origin,
            verified_at=now,
            verify_ok=True,
            verify_message="Key accepted by the demo's vendor simulator",
        )
        providers.append(provider)
    ensure_demo_route(providers)
    return providers


DEMO_ROUTE = ("otp", "One-time codes", ["23telecom", "8x8"])


def ensure_demo_route(providers: list[Provider]) -> Route:
    """A route of two demo vendors, so the Routes page and a failover have something to show."""
    slug, name, kinds = DEMO_ROUTE
    route, created = Route.objects.get_or_create(slug=slug, defaults={"name": name})
    if created:
        by_kind = {provider.kind: provider for provider in providers}
        for position, kind in enumerate(kinds, start=1):
            if kind in by_kind:
                RouteStep.objects.create(route=route, provider=by_kind[kind], position=position)
    return route


# -- history ------------------------------------------------------------------------


def hourly_weight(hour: int) -> float:
    """Traffic by hour of day: quiet at night, a broad peak at midday."""
    return 0.25 + math.exp(-((hour - 13) ** 2) / 18)


@dataclass
class Incident:
    """A burst of one error code, so the demo has a spike to find."""

    slug: str
    code: str
    starts_hours_ago: int
    hours: int
    extra_rate: float


DEMO_INCIDENTS = (
    Incident("23telecom-eu", "RATE_LIMIT_EXCEEDED", starts_hours_ago=30, hours=3, extra_rate=0.18),
    Incident("8x8-apac", "2000", starts_hours_ago=200, hours=2, extra_rate=0.25),
    Incident("telnxo-in", "dlt_scrubbed", starts_hours_ago=80, hours=6, extra_rate=0.12),
)


@dataclass(frozen=True)
class Burst:
    """A campaign sent within a few minutes with a high error rate: the error spike the live check finds.

    Ordinary demo traffic never holds a spike check's minimum of sends in one window, so the
    spike needs its own volume.
    """

    slug: str
    starts_minutes_before_end: int
    minutes: int
    sends: int
    error_rate: float
    codes: tuple[tuple[str, float], ...]  # vendor code, share of the burst's errors

    def planned(self, end: datetime, rng: random.Random) -> list[tuple[datetime, str | None]]:
        start = end - timedelta(minutes=self.starts_minutes_before_end)
        codes, shares = [code for code, _ in self.codes], [share for _, share in self.codes]
        return [
            (
                start + timedelta(seconds=rng.random() * self.minutes * 60),
                rng.choices(codes, shares)[0] if rng.random() < self.error_rate else None,
            )
            for _ in range(self.sends)
        ]


@dataclass(frozen=True)
class KeyExpiry:
    """The vendor stops accepting the account's API key near the end of the history.

    Every send and balance poll after ``expires`` is refused with ``code`` (a few sends are
    made then whatever the hour's traffic, so the refusal shows on sends too), and the
    simulator keeps refusing that key (messaging.demo.vendor_state): the open alert stays
    true until an admin rotates the key.
    """

    slug: str
    code: str
    minutes_before_end: int
    sends: int

    def expires(self, end: datetime) -> datetime:
        return end - timedelta(minutes=self.minutes_before_end)

    def planned(self, end: datetime, rng: random.Random) -> list[tuple[datetime, str | None]]:
        start, span = self.expires(end), self.minutes_before_end * 60
        return [
            (start + timedelta(seconds=span * (n + rng.random()) / self.sends), self.code) for n in range(self.sends)
        ]


DEMO_BURST = Burst(
    "8x8-apac",
    starts_minutes_before_end=5 * 60,
    minutes=12,
    sends=170,
    error_rate=0.15,
    codes=(("2000", 0.6), ("1002", 0.25), ("1400", 0.15)),
)
DEMO_KEY_EXPIRY = KeyExpiry("telnxo-in", "api_key_expired", minutes_before_end=25, sends=4)
# The story's own sends are part of the requested total; smaller histories go without them
# (they would be a large part of them). The key still expires there: the last poll shows it.
STORY_MIN_TOTAL_SENDS = 1000


class ErrorPicker:
    """Draws vendor codes with realistic weights: per category, then Zipf-like inside it."""

    def __init__(self, kind: str, rng: random.Random) -> None:
        codes, weights = [], []
        by_category: dict[Category, list[str]] = {}
        for code, entry in get_adapter_class(kind).errors.items():
            if lifecycle.wants(entry):
                # Money, plan and key errors open alerts at once; at random they would contradict
                # the balances and the working key around them. The story places its own.
                continue
            by_category.setdefault(entry.category, []).append(code)
        for category, members in by_category.items():
            for rank, code in enumerate(members):
                codes.append(code)
                weights.append(CATEGORY_WEIGHTS.get(category, 0.2) / (rank + 1))
        self.entries = get_adapter_class(kind).errors
        self.codes = codes
        self.cumulative = list(_accumulate(weights))
        self.rng = rng

    def pick(self, count: int) -> list[str]:
        return self.rng.choices(self.codes, cum_weights=self.cumulative, k=count)


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


@dataclass
class HistoryCounts:
    sends: int = 0
    errors: int = 0
    snapshots: int = 0
    attempts: int = 0


SEND_COLUMNS = (
    "id",
    "provider_id",
    "channel",
    "source",
    "recipient",
    "recipient_key",
    "sender",
    "body",
    "body_sha256",
    "status",
    "vendor_message_id",
    "request_id",
    "http_status",
    "latency_ms",
    "attempts",
    "error_code",
    "error_category",
    "status_reason",
    "created_at",
    "updated_at",
    "completed_at",
)
ATTEMPT_COLUMNS = ("send_id", "number", "started_at", "latency_ms", "http_status", "outcome", "error_code")
ERROR_COLUMNS = (
    "provider_id",
    "send_id",
    "source",
    "channel",
    "occurred_at",
    "http_status",
    "error_code",
    "category",
    "retryable",
    "known",
    "message",
    "param",
    "request_id",
    "details",
    "raw_body",
)


def generate_history(
    providers: list[Provider],
    *,
    total_sends: int,
    days: int,
    seed: int = 7,
    end: datetime | None = None,
    render_error_body: Callable[[str, str], str] | None = None,
    progress: Callable[[int], None] | None = None,
    error_rate: float | None = None,
) -> HistoryCounts:
    """Write ``total_sends`` sends over ``days`` days ending at ``end``, with their attempts, errors and balances.

    ``error_rate`` (a fraction) scales every account's base error rate so the
    traffic-weighted mean is that rate (the benchmark asks for 10 %). The story
    (:data:`DEMO_BURST`, :data:`DEMO_KEY_EXPIRY`) is written for the demo providers in it,
    and each demo provider's ``last_polled_at`` is its last reading, as after a real poll.
    """
    rng = random.Random(seed)
    end = (end or timezone.now()).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    accounts = {a.slug: a for a in DEMO_ACCOUNTS}
    demo_providers = [(p, accounts[p.slug]) for p in providers if p.slug in accounts]
    pickers = {p.slug: ErrorPicker(p.kind, rng) for p, _ in demo_providers}
    rate_scale = 1.0
    if error_rate is not None and demo_providers:
        mean = sum(a.share * a.base_error_rate for _, a in demo_providers) / sum(a.share for _, a in demo_providers)
        rate_scale = error_rate / mean
    slugs = {p.slug for p, _ in demo_providers}
    expiry = DEMO_KEY_EXPIRY if DEMO_KEY_EXPIRY.slug in slugs else None
    expires = expiry.expires(end) if expiry else None
    # The story's sends, by provider, from their own random generator: the rest of the traffic is the same without them.
    story: dict[str, list[tuple[datetime, str | None]]] = defaultdict(list)
    if total_sends >= STORY_MIN_TOTAL_SENDS:
        story_rng = random.Random(f"story:{seed}")
        for part in (DEMO_BURST, expiry):
            if part is not None and part.slug in slugs:
                story[part.slug] += part.planned(end, story_rng)
    hours = [start + timedelta(hours=h) for h in range(days * 24)]
    weights = [hourly_weight(h.hour) for h in hours]
    regular_sends = total_sends - sum(len(planned) for planned in story.values())
    scale = regular_sends / sum(weights)
    counts = HistoryCounts()
    body_cache: dict[tuple[str, str], str] = {}

    def raw_body(kind: str, code: str) -> str:
        if render_error_body is None:
            return ""
        if (kind, code) not in body_cache:
            body_cache[(kind, code)] = render_error_body(kind, code)
        return body_cache[(kind, code)]

    ids = iter(next_ids(Send._meta.db_table, total_sends + len(hours) * len(demo_providers)))
    send_rows: list[tuple] = []
    attempt_rows: list[tuple] = []
    error_rows: list[tuple] = []
    # Rollup increments of the rows not yet written, per 5-minute bucket.
    sent: Counter = Counter()
    failed: Counter = Counter()
    writer = _ChunkWriter()
    balances = {p.slug: a.start_balance for p, a in demo_providers}
    quota_used = {p.slug: 0 for p, _ in demo_providers}
    snapshots: list[BalanceSnapshot] = []
    last_polled: dict[int, datetime] = {}
    remaining = regular_sends
    hour_plan: list[tuple[float, Provider, DemoAccount, str | None]] = []

    def flush() -> None:
        writer.write(send_rows[:], attempt_rows[:], error_rows[:], sent.copy(), failed.copy())
        for pending in (send_rows, attempt_rows, error_rows, sent, failed):
            pending.clear()

    # A fresh load builds the secondary indexes once at the end, not row by row.
    with indexes_deferred(Send, ErrorEvent, SendAttempt):
        for index, hour_start in enumerate(hours):
            hour_total = remaining if index == len(hours) - 1 else min(remaining, round(weights[index] * scale))
            remaining -= hour_total
            hours_ago = int((end - hour_start).total_seconds() // 3600)
            story_here = 0
            counts_by_provider = _split(hour_total, [account.share for _, account in demo_providers], rng)
            for (provider, account), count in zip(demo_providers, counts_by_provider, strict=True):
                # (from when, with which code) the vendor refuses this account's key
                refusal = (expires, expiry.code) if expiry and expires and provider.slug == expiry.slug else None
                if hour_start.day == 1 and hour_start.hour == 0:
                    quota_used[provider.slug] = 0
                hour_error_rate = account.base_error_rate * rate_scale
                incident_code = None
                for incident in DEMO_INCIDENTS:
                    if incident.slug == provider.slug and 0 <= incident.starts_hours_ago - hours_ago < incident.hours:
                        hour_error_rate += incident.extra_rate
                        incident_code = incident.code
                failures = rng.binomialvariate(count, min(hour_error_rate, 1.0))
                codes = pickers[provider.slug].pick(failures)
                if incident_code is not None:
                    codes = [incident_code if rng.random() < 0.7 else c for c in codes]
                failed_positions = set(rng.sample(range(count), failures)) if failures else set()
                code_iter = iter(codes)
                planned: list[tuple[float, str | None]] = []
                for position in range(count):
                    code = next(code_iter) if position in failed_positions else None
                    planned.append((rng.random() * 3600, code))
                for at, code in story.get(provider.slug, ()):
                    if hour_start <= at < hour_start + timedelta(hours=1):
                        planned.append(((at - hour_start).total_seconds(), code))
                        story_here += 1
                if refusal is not None and (cutoff := (refusal[0] - hour_start).total_seconds()) < 3600:
                    # The key is refused from here on, whatever else would have happened.
                    planned = [(offset, refusal[1] if offset >= cutoff else code) for offset, code in planned]
                hour_plan.extend((offset, provider, account, code) for offset, code in planned)
                accepted = sum(1 for _, code in planned if code is None)
                if account.monthly_quota:
                    quota_used[provider.slug] += accepted
                else:
                    balances[provider.slug] -= account.cost_per_message * accepted
                    # Top-ups arrive late, so the demo shows low and critical periods.
                    if balances[provider.slug] < account.start_balance * Decimal("0.05") and rng.random() < 0.5:
                        balances[provider.slug] += account.start_balance
                fetched_at = hour_start + timedelta(minutes=59)
                if refusal is not None and fetched_at >= refusal[0]:
                    snapshot, error_row = _refused_poll(provider, account, refusal[1], fetched_at, raw_body, rng)
                    snapshots.append(snapshot)
                    error_rows.append(error_row)
                else:
                    snapshots.append(_snapshot(provider, account, fetched_at, balances, quota_used))
                last_polled[provider.pk] = fetched_at
            # Sends of all providers interleave in time, and ids rise with time, as in production.
            hour_plan.sort(key=lambda planned: planned[0])
            buckets = [hour_start + timedelta(minutes=5 * n) for n in range(12)]
            for offset, provider, account, code in hour_plan:
                channel = _append_send(
                    send_rows,
                    attempt_rows,
                    error_rows,
                    next(ids),
                    hour_start + timedelta(seconds=offset),
                    provider,
                    account,
                    code,
                    pickers[provider.slug].entries,
                    raw_body,
                    rng,
                )
                bucket = buckets[int(offset // 300)]
                sent[(provider.id, channel, bucket)] += 1
                if code is not None:
                    category = str(pickers[provider.slug].entries[code].category)
                    failed[(provider.id, channel, bucket, code, category)] += 1
            hour_plan.clear()
            if len(send_rows) >= 20000:
                flush()
            if progress:
                progress(hour_total + story_here)
        flush()
        counts.sends, counts.attempts, counts.errors = writer.finish()
    BalanceSnapshot.objects.bulk_create(snapshots, batch_size=2000)
    counts.snapshots = len(snapshots)
    for provider_id, at in last_polled.items():
        Provider.objects.filter(pk=provider_id).update(last_polled_at=at)
    if expiry is not None:
        # The key was checked when the account was set up, long before the vendor let it expire.
        Credential.objects.filter(
            provider__slug=expiry.slug, state=Credential.State.ACTIVE, label="Demo key", verify_ok=True
        ).update(verified_at=start)
    reset_sequence(Send._meta.db_table)
    vacuum_rollups()
    return counts


def _refused_poll(provider, account, code, fetched_at, raw_body, rng) -> tuple[BalanceSnapshot, tuple]:
    """A balance poll the vendor refused with ``code``: its snapshot and its ErrorEvent row (source balance),
    as ``alerts.balances.poll_provider`` writes them."""
    entry = get_adapter_class(account.kind).errors[code]
    body = raw_body(account.kind, code)
    # The vendor's own words when the simulator's answer is at hand, as the live poll reads them.
    message = (parse_error(account.kind, entry.http_status, body).message if body else "") or entry.description
    latency = LATENCIES[int(rng.random() * len(LATENCIES))]
    snapshot = BalanceSnapshot(
        provider=provider,
        fetched_at=fetched_at,
        currency=account.currency,
        ok=False,
        error_code=code,
        details={
            "latency_ms": latency,
            "category": str(entry.category),
            "message": message[:300],
            "http_status": entry.http_status,
        },
    )
    error_row: tuple = (
        provider.id,
        None,
        ErrorEvent.Source.BALANCE,
        Channel.SMS,
        fetched_at,
        entry.http_status,
        code,
        str(entry.category),
        entry.retryable,
        True,
        message,
        "",
        "",
        {},
        body,
    )
    return snapshot, error_row


def vacuum_rollups() -> None:
    """Reclaim the row versions the repeated rollup upserts left behind, and refresh their statistics.

    Every flush upserts the same rollup rows again; left to autovacuum (off on some servers,
    such as these CI machines) the dead versions slowed each breakdown scan two- to threefold.
    VACUUM cannot run in a transaction, so inside one (the tests) this does nothing.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (SendRollup, ErrorRollup))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {tables}")


class _ChunkWriter:
    """Writes generated chunks: the rows and their rollup counts in one transaction each.

    On PostgreSQL outside a transaction, two threads with their own connections
    write chunks while the next is generated, so the server's COPY and upserts
    and Python's generation keep both cores busy. Inside a transaction (tests)
    it writes inline, on the caller's connection.
    """

    THREADS = 2

    def __init__(self) -> None:
        background = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.pool = ThreadPoolExecutor(max_workers=self.THREADS) if background else None
        self.pending: deque[Future] = deque()
        self.written = [0, 0, 0]

    def write(self, send_rows, attempt_rows, error_rows, sent, failed) -> None:
        if self.pool is None:
            self._add(_write_chunk(send_rows, attempt_rows, error_rows, sent, failed))
            return
        if len(self.pending) >= self.THREADS:  # a bounded number in flight: memory stays flat
            self._add(self.pending.popleft().result())
        self.pending.append(self.pool.submit(_write_chunk, send_rows, attempt_rows, error_rows, sent, failed))

    def finish(self) -> tuple[int, int, int]:
        """(sends, attempts, errors) written."""
        if self.pool is not None:
            while self.pending:
                self._add(self.pending.popleft().result())
            self.pool.shutdown()
        return self.written[0], self.written[1], self.written[2]

    def _add(self, written: tuple[int, int, int]) -> None:
        for index, count in enumerate(written):
            self.written[index] += count


def _write_chunk(send_rows, attempt_rows, error_rows, sent, failed) -> tuple[int, int, int]:
    try:
        with transaction.atomic():
            sends = bulk_insert(Send._meta.db_table, SEND_COLUMNS, send_rows)
            attempts = bulk_insert(SendAttempt._meta.db_table, ATTEMPT_COLUMNS, attempt_rows)
            errors = bulk_insert(ErrorEvent._meta.db_table, ERROR_COLUMNS, error_rows)
            rollups.add(sent, failed)
        return sends, attempts, errors
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()  # each chunk's thread connection: nothing lingers after the load


def _append_send(
    send_rows, attempt_rows, error_rows, send_id, created, provider, account, code, entries, raw_body, rng
) -> str:
    """One generated send row, its one vendor call, and its error event when ``code`` is set; returns the channel."""
    channel = _pick_channel(account, rng)
    # random() arithmetic instead of randrange/lognormvariate: several times faster at 10 M rows.
    latency = LATENCIES[int(rng.random() * len(LATENCIES))]
    body_index = int(rng.random() * len(DEMO_BODIES))
    recipient = f"{account.country_prefix}{10**4 + int(rng.random() * 9 * 10**4)}"
    body, body_hash = DEMO_BODIES[body_index], BODY_HASHES[body_index]
    if code is None:
        delivered = rng.random() < 0.9
        send_rows.append(
            (
                send_id,
                provider.id,
                channel,
                Send.Source.SENDWATCH,
                recipient,
                recipient_key(recipient),
                account.sender,
                body,
                body_hash,
                SendStatus.DELIVERED if delivered else SendStatus.ACCEPTED,
                _vendor_message_id(account.kind, rng),
                "",
                200,
                latency,
                1,
                "",
                "",
                "",
                created,
                created,
                created if delivered else None,
            )
        )
        attempt_rows.append((send_id, 1, created, latency, 200, SendStatus.ACCEPTED, ""))
        return channel
    entry = entries[code]
    request_id = f"req_{rng.getrandbits(64):016x}" if account.kind == "telnxo" else ""
    send_rows.append(
        (
            send_id,
            provider.id,
            channel,
            Send.Source.SENDWATCH,
            recipient,
            recipient_key(recipient),
            account.sender,
            body,
            body_hash,
            SendStatus.FAILED,
            "",
            request_id,
            entry.http_status,
            latency,
            1,
            code,
            str(entry.category),
            entry.description[:300],
            created,
            created,
            created,
        )
    )
    # As the send path records a call: an error answer is a failed call; a per-recipient refusal
    # inside a 200 answer is a call the vendor accepted.
    call_failed = entry.http_status is None or entry.http_status >= 400
    attempt_rows.append(
        (
            send_id,
            1,
            created,
            latency,
            entry.http_status,
            SendStatus.FAILED if call_failed else SendStatus.ACCEPTED,
            code if call_failed else "",
        )
    )
    error_rows.append(
        (
            provider.id,
            send_id,
            ErrorEvent.Source.SEND,
            channel,
            created,
            entry.http_status,
            code,
            str(entry.category),
            entry.retryable,
            True,
            entry.description,
            "",
            request_id,
            {},
            raw_body(account.kind, code),
        )
    )
    return channel


def _split(total: int, shares: list[float], rng: random.Random) -> list[int]:
    """Split ``total`` by ``shares`` exactly: whole parts first, the remainder drawn by share."""
    scale = sum(shares)
    counts = [int(total * share / scale) for share in shares]
    for index in rng.choices(range(len(shares)), weights=shares, k=total - sum(counts)):
        counts[index] += 1
    return counts


def _pick_channel(account: DemoAccount, rng: random.Random) -> str:
    if len(account.channels) == 1:
        return account.channels[0][0]
    draw = rng.random()
    for channel, share in account.channels:
        draw -= share
        if draw < 0:
            return channel
    return account.channels[-1][0]


def _vendor_message_id(kind: str, rng: random.Random) -> str:
    bits = rng.getrandbits(128)
    if kind == "23telecom":
        return f"api_7_{bits >> 64}_{bits & (2**64 - 1):016x}"
    if kind == "8x8":
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return f"msg_{bits & (2**48 - 1):012x}"


def _snapshot(provider, account, fetched_at, balances, quota_used) -> BalanceSnapshot:
    if account.monthly_quota:
        return BalanceSnapshot(
            provider=provider,
            fetched_at=fetched_at,
            used=quota_used[provider.slug],
            limit=account.monthly_quota,
            currency=account.currency,
        )
    amount = balances[provider.slug].quantize(Decimal("0.0001"))
    return BalanceSnapshot(
        provider=provider,
        fetched_at=fetched_at,
        amount=amount,
        currency=account.currency,
        blocked=amount <= 0,
    )


def clear_history(providers: list[Provider]) -> None:
    """Remove generated rows of the demo providers, and the alerts and statuses concluded from them.

    Plain DELETEs for the history: the ORM's collector would load millions of rows to
    cascade them one by one (alerts are few)."""
    ids = [p.id for p in providers]
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        only_demo = not any(m.objects.exclude(provider_id__in=ids).exists() for m in (Send, ErrorEvent))
        if connection.vendor == "postgresql" and only_demo:
            # Only demo traffic in the tables (the benchmark database): TRUNCATE takes a second, DELETE minutes.
            tables = ", ".join(m._meta.db_table for m in (SendAttempt, ErrorEvent, Send))
            cursor.execute(f"TRUNCATE {tables}")
        cursor.execute(
            f"DELETE FROM {SendAttempt._meta.db_table} WHERE send_id IN "
            f"(SELECT id FROM {Send._meta.db_table} WHERE provider_id IN ({marks}))",
            ids,
        )
        for model in (ErrorEvent, Send, BalanceSnapshot):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE provider_id IN ({marks})", ids)
    rollups.delete(providers)
    Alert.objects.filter(provider_id__in=ids).delete()
    Provider.objects.filter(pk__in=ids).update(
        status=ProviderStatus.UNKNOWN, status_detail="", status_changed_at=None, last_polled_at=None
    )
