"""The simulator's steady drain (drain_per_hour, quota_per_hour from drain_since) and SimulatorState.load.

No Django, no database: plain state objects, and the app over real HTTP where the vendors read it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from providers import ApiCredential, get_adapter_class
from providers.simulator import ConfigError, SimulatorState, start_in_thread

HOUR = 3600.0
START = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()


def adapter(kind: str, base_url: str):
    # The simulator listens on 127.0.0.1, which a bare adapter's guarded session refuses.
    return get_adapter_class(kind)(base_url, ApiCredential("sk_test_key_0001"), allow_private_hosts=("127.0.0.1",))


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(clock):
    return SimulatorState(clock=clock)


def test_money_drains_by_the_hour_from_drain_since_however_often_it_is_read(state, clock):
    state.update_config("8x8", "a", {"balance": 100, "drain_per_hour": "1.5", "drain_since": START})
    state.update_config("8x8", "b", {"balance": 100, "drain_per_hour": "1.5", "drain_since": START})
    for _ in range(10):  # "a" is read every 12 minutes, "b" only at the end
        clock.now += HOUR / 5
        state.account("8x8", "a")
    assert state.account("8x8", "a").config.balance == state.account("8x8", "b").config.balance == Decimal("97")
    assert state.account("8x8", "a").config.drain_since == START + 2 * HOUR


def test_money_is_taken_off_in_whole_cents_and_the_rest_is_carried(state, clock):
    state.update_config("8x8", "acct", {"balance": "10.00", "drain_per_hour": "1.5", "drain_since": START})
    balances = []
    for _ in range(4):
        clock.now += 60  # 2.5 cents a minute
        balances.append(state.account("8x8", "acct").config.balance)
    assert balances == [Decimal("9.98"), Decimal("9.95"), Decimal("9.93"), Decimal("9.90")]


def test_the_drain_stops_at_zero_and_sends_still_cost_on_top(state, clock):
    state.update_config("23telecom", "acct", {"balance": 2, "drain_per_hour": 1, "drain_since": START})
    clock.now += 10 * HOUR
    assert state.account("23telecom", "acct").config.balance == 0
    state.update_config("23telecom", "acct", {"balance": 10})
    clock.now += HOUR
    account = state.account("23telecom", "acct")
    account.drain(Decimal("0.5"), 1)
    assert account.config.balance == Decimal("8.5")


def test_no_drain_without_a_start_time(state, clock):
    state.update_config("telephonyio", "acct", {"balance": 50, "drain_per_hour": 5})
    clock.now += 100 * HOUR
    assert state.account("telephonyio", "acct").config.balance == Decimal("50")


def test_plan_usage_counts_up_in_whole_messages_and_stops_at_the_limit(state, clock):
    state.update_config(
        "telnxo", "acct", {"quota_limit": 100, "quota_used": 10, "quota_per_hour": 2.5, "drain_since": START}
    )
    for expected in (12, 15, 17, 20):  # 2.5 an hour: the fraction is carried, never lost
        clock.now += HOUR
        assert state.account("telnxo", "acct").config.quota_used == expected
    clock.now += 40 * HOUR  # still November
    assert state.account("telnxo", "acct").config.quota_used == 100


def test_plan_usage_starts_again_with_the_calendar_month(state, clock):
    late = datetime(2026, 11, 30, 22, tzinfo=UTC).timestamp()
    state.update_config(
        "telnxo", "acct", {"quota_limit": 60000, "quota_used": 9000, "quota_per_hour": 10, "drain_since": late}
    )
    clock.now = datetime(2026, 12, 1, 3, tzinfo=UTC).timestamp()
    assert state.account("telnxo", "acct").config.quota_used == 30  # 3 hours of December


def test_drain_settings_are_validated(state):
    with pytest.raises(ConfigError, match="drain_per_hour"):
        state.update_config("8x8", "acct", {"drain_per_hour": -1})
    with pytest.raises(ConfigError, match="quota_per_hour"):
        state.update_config("telnxo", "acct", {"quota_per_hour": "lots"})
    with pytest.raises(ConfigError, match="drain_since"):
        state.update_config("8x8", "acct", {"drain_since": "yesterday"})


def test_load_sets_many_accounts_with_put_semantics_and_checks_them_all_first(state, clock):
    state.update_config("8x8", "keep", {"balance": 5})
    state.update_config("8x8", "acct", {"outage": True})
    loaded = state.load(
        {
            "accounts": [
                {"kind": "8x8", "account": "acct", "config": {"balance": "1033.97", "drain_per_hour": "0.7"}},
                {"kind": "telnxo", "account": "plan", "config": {"quota_limit": 60000, "quota_used": 326}},
            ]
        }
    )
    assert [(a.kind, a.name) for a in loaded] == [("8x8", "acct"), ("telnxo", "plan")]
    acct = state.account("8x8", "acct").config
    assert (acct.balance, acct.drain_per_hour, acct.outage, acct.currency) == (
        Decimal("1033.97"),
        Decimal("0.7"),
        False,  # PUT: the kind's defaults, then the given keys
        "USD",
    )
    assert state.account("telnxo", "plan").config.quota_used == 326
    assert state.account("8x8", "keep").config.balance == Decimal(5)
    with pytest.raises(ConfigError):
        state.load({"accounts": [{"kind": "8x8", "account": "acct", "config": {"balance": 1}}, {"kind": "nope"}]})
    assert state.account("8x8", "acct").config.balance == Decimal("1033.97")  # nothing changed
    with pytest.raises(ConfigError):
        state.load({"accounts": "all"})


def test_the_vendors_answer_with_the_drained_balance_and_the_control_api_lists_it(clock):
    state = SimulatorState(clock=clock)
    server, root = start_in_thread(state=state)
    try:
        state.load(
            {
                "accounts": [
                    {
                        "kind": "telephonyio",
                        "account": "acct",
                        "config": {"balance": "61.30", "drain_per_hour": "0.5", "drain_since": START},
                    },
                    {
                        "kind": "telnxo",
                        "account": "plan",
                        "config": {"quota_limit": 60000, "quota_used": 326, "quota_per_hour": 16, "drain_since": START},
                    },
                ]
            }
        )
        clock.now = START + 3 * HOUR
        assert adapter("telephonyio", f"{root}/telephonyio/acct/api").fetch_balance().amount == Decimal("59.80")
        reading = adapter("telnxo", f"{root}/telnxo/plan/v1").fetch_balance()
        assert (reading.used, reading.limit) == (374, 60000)
        clock.now += HOUR
        listed = {
            a["account"]: a["config"] for a in requests.get(f"{root}/_sim/accounts", timeout=5).json()["accounts"]
        }
        assert listed["acct"]["balance"] == pytest.approx(59.3)
        assert listed["plan"]["quota_used"] == 390
        assert listed["acct"]["drain_since"] == START + 4 * HOUR
    finally:
        server.shutdown()
