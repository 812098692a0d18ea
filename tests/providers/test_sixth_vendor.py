"""A sixth vendor needs its adapter, its simulated twin and one registry entry: nothing else.

Pigeon Post (tests/providers/pigeonpost.py) is registered only inside these
tests, then sent to, read and made to fail through the simulator over real
HTTP, exactly as the five real vendors are.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import providers
from providers import ApiCredential, Category, OutgoingMessage, UnknownKind, get_adapter_class, kind_choices
from providers.registry import ADAPTERS, SIMULATED_VENDORS, register, registered, unregister
from providers.simulator import KINDS, start_in_thread
from providers.simulator.render import render_error_body
from providers.simulator.vendors import VENDORS
from tests.providers.pigeonpost import KIND, PigeonPost, PigeonPostAdapter

# The same "module.Class" form as the registry's built-in lines.
ADAPTER_PATH = "tests.providers.pigeonpost.PigeonPostAdapter"
SIMULATED_PATH = "tests.providers.pigeonpost.PigeonPost"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pigeon_post():
    with registered(ADAPTER_PATH, SIMULATED_PATH) as adapter_class:
        yield adapter_class


@pytest.fixture
def simulator():
    server, base_url = start_in_thread()
    try:
        yield base_url
    finally:
        server.shutdown()


def adapter(base_url: str, account: str, key: str = "birdseed-0001") -> PigeonPostAdapter:
    # The test simulator listens on loopback, which the outbound guard refuses unless allow-listed.
    return PigeonPostAdapter(f"{base_url}/{KIND}/{account}/v1", ApiCredential(key), allow_private_hosts=("127.0.0.1",))


def send(base_url: str, account: str, **kwargs):
    return adapter(base_url, account, **kwargs).send(OutgoingMessage(("+447700900001",), "Coo"))


def test_one_registry_entry_adds_it_everywhere_and_undoing_it_removes_it(simulator):
    builtin = list(ADAPTERS)
    assert KIND not in builtin
    with registered(ADAPTER_PATH, SIMULATED_PATH):
        assert (KIND, "Pigeon Post") in kind_choices()
        assert get_adapter_class(KIND) is PigeonPostAdapter
        assert KIND in KINDS and type(VENDORS[KIND]) is PigeonPost
        index = requests.get(f"{simulator}/_sim/", timeout=5).json()
        assert index["kinds"] == [*builtin, KIND]
        assert index["vendor_base_urls"][KIND] == f"/{KIND}/{{account}}/v1"
    assert KIND not in dict(kind_choices())
    assert [kind for kind, _ in kind_choices()] == list(ADAPTERS) == list(SIMULATED_VENDORS) == builtin
    with pytest.raises(UnknownKind):
        get_adapter_class(KIND)
    assert KIND not in KINDS and KIND not in VENDORS
    assert requests.get(f"{simulator}/{KIND}/loft/v1/coop", timeout=5).status_code == 404


def test_the_simulated_twin_is_looked_up_only_when_the_simulator_asks(pigeon_post):
    assert SIMULATED_VENDORS[KIND] == SIMULATED_PATH
    assert VENDORS[KIND].adapter is pigeon_post
    assert SIMULATED_VENDORS[KIND] is PigeonPost


def test_the_adapters_never_load_the_simulator():
    code = "import sys, providers; providers.get_adapter_class('8x8'); print('providers.simulator' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_register_refuses_a_kind_twice_and_unregister_an_unknown_one(pigeon_post):
    with pytest.raises(ValueError, match="already registered"):
        register(PigeonPostAdapter, PigeonPost)
    with pytest.raises(UnknownKind):
        unregister("carrier-owl")


def test_send_and_balance_over_http(pigeon_post, simulator):
    outcome = send(simulator, "loft-1")
    assert outcome.error is None, outcome.error
    (result,) = outcome.results
    assert result.accepted and re.fullmatch(r"pigeon_[0-9a-f]{8}", result.vendor_message_id)
    (recorded,) = requests.get(f"{simulator}/_sim/{KIND}/loft-1/messages", timeout=5).json()["messages"]
    assert (recorded["vendor_message_id"], recorded["body"]) == (result.vendor_message_id, "Coo")
    balance = adapter(simulator, "loft-1").fetch_balance()
    assert balance.error is None and (balance.used, balance.limit) == (1, 2)


def test_the_simulator_learns_quota_not_money_from_the_adapter(pigeon_post, simulator):
    account = requests.get(f"{simulator}/_sim/{KIND}/loft-2", timeout=5).json()
    assert account["config"]["balance"] is None and account["quota_left"] == 2
    assert send(simulator, "loft-2").error is None
    # A top-up of a quota account starts the month again; it takes no amount.
    topped = requests.post(f"{simulator}/_sim/{KIND}/loft-2/topup", json={}, timeout=5)
    assert topped.status_code == 200 and topped.json()["quota_left"] == 2


def test_errors_are_parsed_from_its_catalogue(pigeon_post, simulator):
    assert send(simulator, "loft-3").error is None
    assert send(simulator, "loft-3").error is None
    error = send(simulator, "loft-3").error  # the plan's two pigeons are out
    assert (error.provider_code, error.category, error.http_status) == ("coop_empty", Category.QUOTA, 402)
    assert error.known and error.description == PigeonPostAdapter.errors["coop_empty"].description
    error = send(simulator, "loft-3", key="").error
    assert (error.provider_code, error.category, error.http_status, error.known) == (
        "wrong_seed",
        Category.AUTH,
        401,
        True,
    )


def test_the_control_api_forces_its_catalogue_codes(pigeon_post, simulator):
    forced = requests.post(f"{simulator}/_sim/{KIND}/loft-4/fail_next", json={"code": "no_such_loft"}, timeout=5)
    assert forced.status_code == 200
    error = send(simulator, "loft-4").error
    assert (error.provider_code, error.category, error.http_status) == ("no_such_loft", Category.VALIDATION, 422)
    refused = requests.post(f"{simulator}/_sim/{KIND}/loft-4/fail_next", json={"code": "INVALID_TO"}, timeout=5)
    assert refused.status_code == 400 and "Pigeon Post" in refused.json()["error"]


def test_its_rendered_error_bodies_parse_back(pigeon_post):
    for code, entry in PigeonPostAdapter.errors.items():
        error = providers.parse_error(KIND, entry.http_status, render_error_body(KIND, code))
        assert (error.provider_code, error.category, error.known) == (code, entry.category, True)
