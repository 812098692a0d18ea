"""In-memory simulator state: per-account configuration, counters and recorded messages.

Everything lives behind one re-entrant lock (:attr:`SimulatorState.lock`); the
WSGI application takes it for every check-and-mutate step (balance check + drain
+ record, token bucket, fail_next queue) and releases it before any sleep.
:meth:`SimulatorState.snapshot` is plain JSON (Decimals become floats).

Nothing here is vendor-specific: an account starts with its vendor's
``Vendor.defaults`` and is money- or quota-based as its adapter says.

An account may also drain steadily (``drain_per_hour`` of money, ``quota_per_hour`` of
plan messages, from ``drain_since``): the traffic a real account carries between two
looks at it. The drain is applied lazily, whenever the account is read
(:meth:`Account.settle`), so the balance at a given moment is the same however often,
and in whichever process, it is read. :meth:`SimulatorState.load` sets many accounts at
once (the demo carries its generated history on with it).
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from providers.simulator.vendors import VENDORS

# A live view of the registry, so a vendor registered at run time is served too.
KINDS = VENDORS.keys()

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
MAX_RECORDED_MESSAGES = 100_000

CENT = Decimal("0.01")
PSEUDO_CODES = frozenset({"garbage", "empty", "timeout", "disconnect", "accept_then_disconnect"})


class ConfigError(ValueError):
    """A control-API payload the simulator refuses (answered with 400)."""


def _decimal(name: str, value: Any, *, allow_none: bool = False) -> Decimal | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{name} must be a number")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"{name} must be a number") from None
    if not amount.is_finite():
        raise ConfigError(f"{name} must be finite")
    return amount


def _int(name: str, value: Any, *, allow_none: bool = False, minimum: int | None = 0) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ConfigError(f"{name} must be an integer")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}")
    return value


def _float(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative number")
    return float(value)


def _non_negative(name: str, value: Decimal | None) -> Decimal | None:
    if value is not None and value < 0:
        raise ConfigError(f"{name} must be >= 0")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false")
    return value


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string")
    return value


def _str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{name} must be a list of strings")
    return list(value)


def _error_mix(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be an object of code -> probability")
    mix: dict[str, float] = {}
    for code, probability in value.items():
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise ConfigError(f"{name}[{code!r}] must be a probability between 0 and 1")
        mix[str(code)] = float(probability)
    if sum(mix.values()) > 1.0 + 1e-9:
        raise ConfigError(f"{name} probabilities add up to more than 1")
    return mix


@dataclass
class AccountConfig:
    """The scriptable knobs of one simulated vendor account (``GET/PUT /_sim/{kind}/{account}``)."""

    balance: Decimal | None = Decimal("100.00")
    currency: str = "EUR"
    # Quota vendors (Telnxo monthly quota, texting.blue plan limit); None = no cap.
    quota_limit: int | None = None
    quota_used: int = 0
    # Money drained per accepted message (per segment for 23 Telecom).
    cost_per_message: Decimal = Decimal("0.035")
    # A steady drain on top of the sends made here (see Account.settle): money per hour,
    # plan messages per hour, applied from drain_since (Unix time; None = no drain).
    drain_per_hour: Decimal = Decimal("0")
    quota_per_hour: float = 0.0
    drain_since: float | None = None
    # Empty list: any non-empty key is accepted.
    valid_keys: list[str] = field(default_factory=list)
    expired_keys: list[str] = field(default_factory=list)
    # code -> probability, drawn once per send request.
    error_mix: dict[str, float] = field(default_factory=dict)
    timeout_seconds: float = 30.0
    rate_limit_per_second: float | None = None
    # 23 Telecom only: which of its 429 layers the token bucket imitates:
    # "account" (JSON RATE_LIMIT_EXCEEDED), "ip" (429 without a body), "edge" (429 HTML page).
    rate_limit_style: str = "account"
    outage: bool = False
    latency_ms: int = 0
    # 23 Telecom: the balance cache is down -> 200 with unavailable: true.
    degraded_balance: bool = False
    # 23 Telecom: recipients starting with one of these get per-recipient blocked_country.
    blocked_prefixes: list[str] = field(default_factory=list)
    seed: int | None = None
    plan: str = ""
    # 23 Telecom user id used in message ids (api_{user}_{ns}_{hex}); derived from the account name.
    user_id: int = 7
    # 23 Telecom onboarding: balance answers 200 {"status": false, "error": "Account is in setup process"}.
    setup_in_progress: bool = False
    # 8x8 post-paid account: balance answers 403 code 1201.
    postpaid: bool = False
    # 8x8 sub-account ids owned by the account; empty = any well-formed id.
    sub_accounts: list[str] = field(default_factory=list)
    # Registered sender ids (Telnxo) / connected "from" numbers (texting.blue); empty = any.
    senders: list[str] = field(default_factory=list)
    # texting.blue numbers that are paused.
    paused_senders: list[str] = field(default_factory=list)

    @classmethod
    def defaults(cls, kind: str, account: str) -> AccountConfig:
        defaults = VENDORS[kind].defaults
        values: dict[str, Any] = {k: Decimal(v) if k == "cost_per_message" else v for k, v in defaults.items()}
        config = cls(**values)
        config.user_id = int(hashlib.sha256(account.encode()).hexdigest()[:6], 16) % 100_000 + 1
        return config

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if not f.name.startswith("_")]

    def update(self, data: Mapping[str, Any]) -> None:
        """Apply a (validated) partial update; raise ConfigError before changing anything."""
        if not isinstance(data, Mapping):
            raise ConfigError("config must be a JSON object")
        unknown = sorted(set(data) - set(self.field_names()))
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}; known: {', '.join(self.field_names())}")
        coerced = {name: _COERCERS[name](name, value) for name, value in data.items()}
        if coerced.get("rate_limit_style", self.rate_limit_style) not in ("account", "ip", "edge"):
            raise ConfigError("rate_limit_style must be 'account', 'ip' or 'edge'")
        for name, value in coerced.items():
            setattr(self, name, value)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.field_names():
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = float(value)
            elif isinstance(value, (list, dict)):
                value = type(value)(value)
            out[name] = value
        return out


_COERCERS: dict[str, Callable[[str, Any], Any]] = {
    "balance": lambda n, v: _decimal(n, v, allow_none=True),
    "currency": _str,
    "quota_limit": lambda n, v: _int(n, v, allow_none=True),
    "quota_used": _int,
    "cost_per_message": lambda n, v: _decimal(n, v),
    "drain_per_hour": lambda n, v: _non_negative(n, _decimal(n, v)),
    "quota_per_hour": _float,
    "drain_since": lambda n, v: _float(n, v, allow_none=True),
    "valid_keys": _str_list,
    "expired_keys": _str_list,
    "error_mix": _error_mix,
    "timeout_seconds": _float,
    "rate_limit_per_second": lambda n, v: _float(n, v, allow_none=True) or None,
    "rate_limit_style": _str,
    "outage": _bool,
    "latency_ms": _int,
    "degraded_balance": _bool,
    "blocked_prefixes": _str_list,
    "seed": lambda n, v: _int(n, v, allow_none=True, minimum=None),
    "plan": _str,
    "user_id": lambda n, v: _int(n, v, minimum=1),
    "setup_in_progress": _bool,
    "postpaid": _bool,
    "sub_accounts": _str_list,
    "senders": _str_list,
    "paused_senders": _str_list,
}


@dataclass
class Forced:
    """One queued ``fail_next`` entry."""

    code: str
    status: int | None = None
    # "any", "send" or "balance": which kind of vendor request consumes it.
    scope: str = "any"

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "status": self.status, "scope": self.scope}


@dataclass
class Account:
    kind: str
    name: str
    config: AccountConfig
    created_at: float
    # Plan-cap vendor (from its adapter's balance_kind): "balance" is messages used, not money.
    quota_based: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    # idempotency key -> (first use, vendor message id)
    idempotency: dict[str, tuple[float, str]] = field(default_factory=dict)
    fail_next: deque[Forced] = field(default_factory=deque)
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    fault_rng: random.Random = field(default_factory=random.Random)
    id_rng: random.Random = field(default_factory=random.Random)
    bucket_tokens: float = 0.0
    bucket_updated: float = 0.0
    window: deque[float] = field(default_factory=deque)
    last_ns: int = 0
    # What the drain has used but not yet taken off: a fraction of a cent, of a plan message.
    money_carry: Decimal = Decimal(0)
    quota_carry: float = 0.0

    def reseed(self) -> None:
        seed = self.config.seed
        if seed is None:
            self.fault_rng = random.Random()
            self.id_rng = random.Random()
        else:
            self.fault_rng = random.Random(f"fault:{seed}")
            self.id_rng = random.Random(f"id:{seed}")

    # -- money / quota ------------------------------------------------------

    def settle(self, now: float) -> None:
        """Apply the steady drain from ``drain_since`` up to ``now``, then move ``drain_since`` to ``now``.

        Money is taken off in whole cents and plan usage counted in whole messages, the rest
        carried to the next read. Money stops at zero and plan usage at its limit (the vendor
        refuses traffic past them); a quota account's usage starts again at each calendar
        month (UTC), which is when the vendors' plans reset.
        """
        config = self.config
        since = config.drain_since
        if since is None or now <= since:
            return
        if config.drain_per_hour and config.balance is not None and config.balance > 0:
            self.money_carry += config.drain_per_hour * Decimal(str(now - since)) / 3600
            cents = self.money_carry.quantize(CENT, rounding=ROUND_DOWN)
            self.money_carry -= cents
            config.balance = max(Decimal(0), config.balance - cents)
        if self.quota_based:
            start = since
            if now >= _next_month_start(since):
                config.quota_used, self.quota_carry = 0, 0.0
                start = _month_start(now)
            self.quota_carry += config.quota_per_hour * (now - start) / 3600
            whole = int(self.quota_carry)
            self.quota_carry -= whole
            config.quota_used += whole
            if config.quota_limit is not None:
                config.quota_used = min(config.quota_used, max(config.quota_limit, 0))
        config.drain_since = now

    def quota_left(self) -> int | None:
        if self.config.quota_limit is None:
            return None
        return max(0, self.config.quota_limit - self.config.quota_used)

    def drain(self, cost: Decimal, messages: int) -> None:
        if self.config.balance is not None and cost:
            self.config.balance -= cost
        if self.quota_based:
            self.config.quota_used += messages

    def topup(self, amount: Decimal | None) -> None:
        if self.quota_based:
            self.config.quota_used = 0
            return
        if amount is None:
            raise ConfigError("amount is required for a money balance")
        self.config.balance = (self.config.balance or Decimal(0)) + amount

    # -- ids --------------------------------------------------------------------

    def hex(self, n: int) -> str:
        return "".join(self.id_rng.choice("0123456789abcdef") for _ in range(n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.id_rng.getrandbits(128), version=4))

    def nanoseconds(self) -> int:
        """A strictly increasing nanosecond timestamp (23 Telecom ids embed one)."""
        now = time.time_ns()
        self.last_ns = max(now, self.last_ns + 1)
        return self.last_ns

    # -- rate limiting --------------------------------------------------------

    def take_token(self, now: float) -> float | None:
        """Consume one token; None when allowed, else seconds until one is available."""
        rate = self.config.rate_limit_per_second
        if not rate:
            return None
        capacity = max(1.0, rate)
        if self.bucket_updated == 0.0:
            self.bucket_tokens, self.bucket_updated = capacity, now
        self.bucket_tokens = min(capacity, self.bucket_tokens + (now - self.bucket_updated) * rate)
        self.bucket_updated = now
        if self.bucket_tokens >= 1.0:
            self.bucket_tokens -= 1.0
            return None
        return (1.0 - self.bucket_tokens) / rate

    def note_request(self, now: float) -> int:
        """Record one request in the rolling 60 s window; return the count in the window."""
        self.requests += 1
        self.window.append(now)
        while self.window and self.window[0] <= now - 60:
            self.window.popleft()
        return len(self.window)

    def window_reset(self, now: float) -> int:
        return math.ceil((self.window[0] if self.window else now) + 60)

    # -- fault injection ----------------------------------------------------------

    def pop_forced(self, scope: str) -> Forced | None:
        for index, entry in enumerate(self.fail_next):
            if entry.scope in ("any", scope):
                del self.fail_next[index]
                return entry
        return None

    def draw_mix(self) -> str | None:
        mix = self.config.error_mix
        if not mix:
            return None
        roll = self.fault_rng.random()
        cumulative = 0.0
        for code in sorted(mix):
            cumulative += mix[code]
            if roll < cumulative:
                return code
        return None

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def record(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if len(self.messages) > MAX_RECORDED_MESSAGES:
            del self.messages[: len(self.messages) - MAX_RECORDED_MESSAGES]

    def as_json(self, *, with_messages: bool = False) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "account": self.name,
            "config": self.config.as_json(),
            "credit_blocked": self.config.balance is not None and self.config.balance <= 0,
            "quota_left": self.quota_left(),
            "requests": self.requests,
            "outcomes": dict(self.outcomes),
            "accepted_messages": len(self.messages),
            "fail_next": [entry.as_json() for entry in self.fail_next],
            "idempotency_keys": len(self.idempotency),
            "created_at": self.created_at,
        }
        if with_messages:
            data["messages"] = [dict(m) for m in self.messages]
        return data


class SimulatorState:
    """All simulated accounts. Thread-safe: hold :attr:`lock` around any read-modify-write."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.accounts: dict[tuple[str, str], Account] = {}
        self._interrupt = threading.Event()

    def account(self, kind: str, name: str) -> Account:
        """The account, created with its kind's defaults on first use."""
        vendor = VENDORS[kind]  # KeyError for a kind nobody registered
        with self.lock:
            account = self.accounts.get((kind, name))
            if account is None:
                config = AccountConfig.defaults(kind, name)
                account = Account(
                    kind=kind, name=name, config=config, created_at=self.clock(), quota_based=vendor.quota_based
                )
                account.reseed()
                self.accounts[(kind, name)] = account
            account.settle(self.clock())
            return account

    def replace_config(self, kind: str, name: str, data: Mapping[str, Any]) -> Account:
        """PUT semantics: the kind's defaults, then ``data``. Validation happens before any change."""
        config = AccountConfig.defaults(kind, name)
        config.update(data)
        with self.lock:
            account = self.account(kind, name)
            reseed = account.config.seed != config.seed or config.seed is not None
            account.config = config
            account.bucket_updated = 0.0
            account.money_carry, account.quota_carry = Decimal(0), 0.0
            if reseed:
                account.reseed()
            return account

    def update_config(self, kind: str, name: str, data: Mapping[str, Any]) -> Account:
        """PATCH semantics: only the given keys change."""
        with self.lock:
            account = self.account(kind, name)
            candidate = AccountConfig(**{n: getattr(account.config, n) for n in AccountConfig.field_names()})
            candidate.update(data)
            account.config = candidate
            if "rate_limit_per_second" in data:
                account.bucket_updated = 0.0
            if "seed" in data:
                account.reseed()
            return account

    def load(self, data: Mapping[str, Any]) -> list[Account]:
        """Set accounts from ``{"accounts": [{"kind", "account", "config"}, ...]}`` (the shape
        ``GET /_sim/accounts`` lists): each named account gets its kind's defaults, then its
        ``config`` (PUT semantics); accounts not named are left alone. Every entry is checked
        before anything changes."""
        entries = data.get("accounts") if isinstance(data, Mapping) else None
        if not isinstance(entries, list):
            raise ConfigError('accounts must be {"accounts": [{"kind", "account", "config"}, ...]}')
        checked: list[tuple[str, str, Mapping[str, Any]]] = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise ConfigError("each account must be an object")
            kind, name, config = entry.get("kind"), entry.get("account"), entry.get("config", {})
            if not isinstance(kind, str) or kind not in VENDORS or not isinstance(name, str) or not name:
                raise ConfigError(f"unknown account {kind!r}/{name!r}")
            AccountConfig.defaults(kind, name).update(config)  # raises before anything changes
            checked.append((kind, name, config))
        with self.lock:
            return [self.replace_config(kind, name, config) for kind, name, config in checked]

    def settled(self) -> list[Account]:
        """Every account, with its drain applied up to now."""
        with self.lock:
            now = self.clock()
            for account in self.accounts.values():
                account.settle(now)
            return list(self.accounts.values())

    def reset(self) -> None:
        with self.lock:
            self.accounts.clear()
        self.interrupt_sleepers()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"accounts": [a.as_json(with_messages=True) for a in self.settled()]}

    # -- sleeping that shutdown / reset can cut short --------------------------------

    def sleep(self, seconds: float) -> bool:
        """Sleep; False when interrupted by :meth:`interrupt_sleepers` (reset or server shutdown)."""
        if seconds <= 0:
            return True
        event = self._interrupt
        return not event.wait(seconds)

    def interrupt_sleepers(self) -> None:
        with self.lock:
            event, self._interrupt = self._interrupt, threading.Event()
        event.set()


def _month_start(moment: float) -> float:
    """The start of ``moment``'s calendar month in UTC, as Unix time."""
    day = datetime.fromtimestamp(moment, UTC)
    return datetime(day.year, day.month, 1, tzinfo=UTC).timestamp()


def _next_month_start(moment: float) -> float:
    day = datetime.fromtimestamp(moment, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()
