"""API tokens are scoped (what, for which providers) and rate-limited (per token; failed attempts per address)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.management import CommandError, call_command
from django.urls import reverse

from messaging.models import ApiToken, AuditEntry, ErrorEvent, Provider, Send
from messaging.vault import ratelimit, tokens
from tests.api import bodies

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SLUGS = {"23telecom": "t23", "textingblue": "tblue", "8x8": "e8", "telnxo": "tnx", "telephonyio": "tio"}
T0 = 3000.0  # a fixed clock for the limiter, at the start of a window


def payload(slug: str = "t23") -> dict:
    return {"provider": slug, "events": [{"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE}]}


def counts() -> tuple[int, int]:
    return Send.objects.count(), ErrorEvent.objects.count()


def problems(response, status: int) -> list[dict]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert list(document) == ["errors"] and document["errors"]
    return document["errors"]


@pytest.fixture(autouse=True)
def _own_rate_limits(settings):
    """This test's counters only: a key prefix of its own in the configured cache."""
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, fixed at T0; set ``clock.now`` to move it."""

    class Clock:
        now = T0

    monkeypatch.setattr(ratelimit, "clock", lambda: Clock.now)
    return Clock


@pytest.fixture
def vendors(db) -> dict[str, Provider]:
    return {slug: Provider.objects.create(name=f"{kind} account", slug=slug, kind=kind) for kind, slug in SLUGS.items()}


@pytest.fixture
def post(client):
    def send(body, token: str | None, ip: str = "127.0.0.1"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return client.post(
            reverse("messaging:ingest_events"),
            data=json.dumps(body),
            content_type="application/json",
            REMOTE_ADDR=ip,
            **headers,
        )

    return send


def make(providers="all", scopes=(tokens.EVENTS_WRITE,), name="caller") -> str:
    if providers != "all":
        providers = list(Provider.objects.filter(slug__in=providers))
    return tokens.create_token(name, providers=providers, scopes=scopes)[1]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# -- scopes and providers ------------------------------------------------------------------------


def test_a_token_without_the_scope_is_403_naming_it(post, vendors):
    token = make(scopes=[tokens.MESSAGES_SEND])
    (problem,) = problems(post(payload(), token), 403)
    assert problem["path"] == "Authorization"
    assert "'events:write'" in problem["message"]
    assert counts() == (0, 0)


def test_a_provider_outside_the_tokens_list_is_403_naming_it(post, vendors):
    token = make(providers=["t23"])
    (problem,) = problems(post(payload("tblue"), token), 403)
    assert problem["path"] == "provider" and "'tblue'" in problem["message"]
    assert counts() == (0, 0)
    assert post(payload("t23"), token).status_code == 200
    assert counts() == (1, 1)


def test_a_limited_token_cannot_probe_which_slugs_exist(post, vendors):
    (problem,) = problems(post(payload("no-such-account"), make(providers=["t23"])), 403)
    assert "'no-such-account'" in problem["message"]
    # A token for every provider is told the slug is unknown, as before.
    problems(post(payload("no-such-account"), make()), 404)


def test_an_all_providers_token_works_for_every_provider_including_new_ones(post, vendors):
    token = make(providers="all")
    Provider.objects.create(name="later", slug="later", kind="23telecom")
    for slug in [*SLUGS.values(), "later"]:
        assert post(payload(slug), token).status_code == 200, slug
    assert counts() == (len(SLUGS) + 1, len(SLUGS) + 1)


def test_a_token_with_several_providers_works_for_each(post, vendors):
    token = make(providers=["t23", "e8"], scopes=[tokens.EVENTS_WRITE, tokens.MESSAGES_SEND])
    assert post(payload("t23"), token).status_code == 200
    assert post(payload("e8"), token).status_code == 200
    assert post(payload("tnx"), token).status_code == 403


def test_a_refusal_is_logged_with_the_prefix_never_the_token(post, vendors, caplog):
    token = make(providers=["t23"])
    with caplog.at_level(logging.WARNING, logger="messaging.api.views"):
        post(payload("tblue"), token)
    assert token[:8] in caplog.text and "tblue" in caplog.text and token not in caplog.text


def test_the_service_refuses_a_token_without_scopes_or_providers(vendors):
    with pytest.raises(ValueError, match="at least one provider"):
        tokens.create_token("x", providers=[])
    with pytest.raises(ValueError, match="providers must be 'all'"):
        tokens.create_token("x", providers="everything")
    with pytest.raises(ValueError, match="unknown scope 'events:read'"):
        tokens.create_token("x", providers="all", scopes=["events:read"])
    with pytest.raises(ValueError, match="at least one scope"):
        tokens.create_token("x", providers="all", scopes=[])
    assert not ApiToken.objects.exists()


def test_the_openapi_document_lists_403_and_429(client):
    operation = client.get(reverse("messaging:openapi")).json()["paths"][reverse("messaging:ingest_events")]["post"]
    assert {"403", "429"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]


# -- per-token rate limit ------------------------------------------------------------------------------


def test_past_the_burst_a_token_gets_429_with_retry_after(post, vendors, clock, settings):
    settings.SENDWATCH_API_RATE, settings.SENDWATCH_API_BURST = 1, 3  # 3 requests per sliding 3 s
    token = make()
    assert [post(payload(), token).status_code for _ in range(3)] == [200, 200, 200]
    refused = post(payload(), token)
    (problem,) = problems(refused, 429)
    assert "Rate limit" in problem["message"]
    retry_after = int(refused["Retry-After"])
    assert retry_after >= 1
    assert counts() == (3, 3)  # nothing written for the refused request
    # Another token has its own limit.
    assert post(payload(), make(name="other")).status_code == 200
    # Not a second too early: still refused just before Retry-After, allowed at it.
    clock.now = T0 + retry_after - 1
    assert post(payload(), token).status_code == 429
    clock.now = T0 + retry_after
    assert post(payload(), token).status_code == 200


def test_refused_requests_do_not_count(post, vendors, clock, settings):
    settings.SENDWATCH_API_RATE, settings.SENDWATCH_API_BURST = 1, 2
    token = make()
    statuses = [post(payload(), token).status_code for _ in range(10)]
    assert statuses == [200, 200] + [429] * 8
    clock.now = T0 + int(post(payload(), token)["Retry-After"])
    assert post(payload(), token).status_code == 200


def test_the_window_slides_so_a_boundary_does_not_double_the_burst(settings):
    bucket = f"slide-{uuid.uuid4().hex}"
    assert all(ratelimit.hit(bucket, 3, 10, now=19.9).allowed for _ in range(3))  # the end of one window
    # A fixed window would allow 3 more at 20.1; the sliding one counts ~99 % of the previous window.
    decision = ratelimit.hit(bucket, 3, 10, now=20.1)
    assert not decision.allowed and decision.retry_after >= 1
    assert ratelimit.hit(bucket, 3, 10, now=20.1 + decision.retry_after).allowed


def test_the_limit_can_be_turned_off(post, vendors, settings):
    settings.SENDWATCH_API_RATE = 0
    token = make()
    assert {post(payload(), token).status_code for _ in range(5)} == {200}


def test_a_failing_cache_lets_requests_through_and_says_so(post, vendors, settings, caplog):
    # Port 1 on this machine refuses at once: a Redis that is down.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with caplog.at_level(logging.ERROR, logger="messaging.vault.ratelimit"):
        assert post(payload(), make()).status_code == 200
    assert "the cache failed" in caplog.text


# -- across processes ---------------------------------------------------------------------------------

WORKER = """
import sys
import django
django.setup()
from messaging.vault import ratelimit
bucket, limit, tries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
print(sum(ratelimit.hit(bucket, limit, 100.0, now=5000.0).allowed for _ in range(tries)), flush=True)
"""


@pytest.mark.parametrize(
    "which", [pytest.param("file", id="file cache"), pytest.param("configured", id="CACHE_URL's Redis")]
)
def test_the_limit_is_shared_by_processes(which, tmp_path):
    if which == "file":
        cache_url = f"file://{tmp_path / 'cache'}"
    else:
        if not isinstance(caches["default"], RedisCache):
            pytest.skip("CACHE_URL is not a Redis URL")
        cache_url = os.environ["CACHE_URL"]
    env = {**os.environ, "CACHE_URL": cache_url, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    bucket, limit, tries = f"shared-{uuid.uuid4().hex}", 60, 80
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, bucket, str(limit), str(tries)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:  # both are set up before either starts counting: they run at the same time
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                pytest.fail(worker.communicate(timeout=60)[1])
        outputs = []
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            outputs.append(int(out.strip()))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    # 160 attempts between them, and exactly the limit allowed: one count, updated atomically.
    assert sum(outputs) == limit


# -- failed attempts per address ---------------------------------------------------------------------------


def test_failed_token_attempts_from_one_address_are_throttled(post, vendors, clock, settings):
    settings.SENDWATCH_API_AUTH_FAILURE_LIMIT, settings.SENDWATCH_API_AUTH_FAILURE_WINDOW_SECONDS = 5, 60
    good = make()
    revoked = make(name="old")
    tokens.revoke(ApiToken.objects.get(name="old"))
    attempts = [None, "swk_" + "A" * 43, revoked, "not-a-token", "swk_" + "B" * 43]  # missing, unknown, revoked, …
    assert [post(payload(), attempt).status_code for attempt in attempts] == [401] * 5
    refused = post(payload(), "swk_" + "C" * 43)
    (problem,) = problems(refused, 429)
    assert "failed token attempts" in problem["message"]
    retry_after = int(refused["Retry-After"])
    assert retry_after >= 1
    # A valid token does not help from that address (guessing must not pay off), and nothing is written.
    assert post(payload(), good).status_code == 429
    assert counts() == (0, 0)
    # Another address is not affected.
    assert post(payload(), "swk_" + "D" * 43, ip="203.0.113.9").status_code == 401
    assert post(payload(), good, ip="203.0.113.9").status_code == 200
    # The address may try again once Retry-After has passed.
    clock.now = T0 + retry_after
    assert post(payload(), good).status_code == 200


def test_successful_requests_do_not_count_as_failures(post, vendors, clock, settings):
    settings.SENDWATCH_API_AUTH_FAILURE_LIMIT = 3
    good = make()
    assert {post(payload(), good).status_code for _ in range(10)} == {200}
    assert [post(payload(), None).status_code for _ in range(4)] == [401, 401, 401, 429]


# -- the commands ------------------------------------------------------------------------------------------


def test_create_needs_providers_and_creates_nothing_without(vendors):
    with pytest.raises(CommandError, match="--providers"):
        run("create_api_token", "billing")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("providers", "says"),
    [
        ("t23,nope,gone", "no provider has the slug 'nope', 'gone'"),
        ("all,t23", "'all' already means every provider"),
        (" , ", "give 'all' or provider slugs"),
        ("ALL", "no provider has the slug 'ALL'"),
    ],
)
def test_create_refuses_unknown_slugs_clearly(vendors, providers, says):
    with pytest.raises(CommandError, match=says):
        run("create_api_token", "billing", "--providers", providers)
    assert not ApiToken.objects.exists()


def test_create_refuses_unknown_scopes(vendors):
    with pytest.raises(CommandError, match=r"unknown scope 'events:read' \(known: events:write, messages:send\)"):
        run("create_api_token", "billing", "--providers", "all", "--scopes", "events:write,events:read")
    assert not ApiToken.objects.exists()


def test_create_defaults_to_events_write_and_records_the_choice(vendors):
    output = run("create_api_token", "billing", "--providers", "tblue,t23")
    row = ApiToken.objects.get()
    assert row.scopes == ["events:write"] and not row.all_providers
    assert set(row.providers.values_list("slug", flat=True)) == {"t23", "tblue"}
    assert "scopes events:write; providers t23,tblue" in output
    audit = AuditEntry.objects.get(action="api_token.create")
    assert audit.details["scopes"] == ["events:write"] and audit.details["providers"] == "t23,tblue"


def test_create_with_every_provider_and_two_scopes(vendors):
    run("create_api_token", "sender", "--providers", "all", "--scopes", "events:write,messages:send")
    row = ApiToken.objects.get()
    assert row.all_providers and not row.providers.exists()
    assert row.scopes == ["events:write", "messages:send"]


def test_list_shows_scopes_and_providers(vendors):
    run("create_api_token", "everything", "--providers", "all")
    run("create_api_token", "two", "--providers", "t23,e8", "--scopes", "messages:send")
    lines = run("list_api_tokens").splitlines()
    assert lines[0].split()[:5] == ["ID", "NAME", "PREFIX", "SCOPES", "PROVIDERS"]
    everything = next(line for line in lines if " everything " in line).split()
    two = next(line for line in lines if " two " in line).split()
    assert everything[3:5] == ["events:write", "all"]
    assert two[3:5] == ["messages:send", "e8,t23"]
