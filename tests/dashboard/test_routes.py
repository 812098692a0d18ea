"""The Routes pages: who may see and change them, the steps formset, audit, the live state, the trail and failovers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import AuditEntry, Provider, ProviderStatus, Route, RouteStep, Send
from messaging.traffic import routing
from tests.conftest import store_key
from tests.vault.conftest import ROLE_NAMES, roles, users  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

ADMIN, SUPPORT, MANAGER = "Admin", "Support", "Account manager"
KEY = "sk_live_route_test_0123456789"


def provider(slug: str, name: str, *, key: bool = True, **fields) -> Provider:
    made = Provider.objects.create(name=name, slug=slug, kind="23telecom", currency="EUR", **fields)
    if key:
        store_key(made, KEY)
    return made


@pytest.fixture
def eu(db):
    return provider("t23", "23 EU")


@pytest.fixture
def us(db):
    return provider("tnx", "Telnxo US")


@pytest.fixture
def admin(client, users):  # noqa: F811
    client.force_login(users[ADMIN])
    return client


def make_route(slug: str, *steps: tuple[Provider, int], **fields) -> Route:
    route = Route.objects.create(slug=slug, name=fields.pop("name", slug.upper()), **fields)
    for made, position in steps:
        RouteStep.objects.create(route=route, provider=made, position=position)
    return route


def form_data(steps: list[dict], *, slug="otp", name="One-time codes", enabled=True, initial=0) -> dict:
    data = {
        "slug": slug,
        "name": name,
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(initial),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    if enabled:
        data["enabled"] = "on"
    for n, step in enumerate(steps):
        for name_, value in step.items():
            data[f"steps-{n}-{name_}"] = "" if value is None else str(value)
    return data


def step(made: Provider | None, position=1, weight=None, countries="") -> dict:
    return {"provider": made.pk if made else "", "position": position, "weight": weight, "countries": countries}


# -- who ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_only_admins_see_and_change_routes(client, users, role, eu):  # noqa: F811
    route = make_route("otp", (eu, 1))
    if users[role] is not None:
        client.force_login(users[role])
    urls = [
        reverse("messaging:routes"),
        reverse("messaging:route_create"),
        reverse("messaging:route_edit", args=[route.slug]),
        reverse("messaging:route_delete", args=[route.slug]),
    ]
    expected = {ADMIN: 200, SUPPORT: 403, MANAGER: 403, "no group": 403, "anonymous": 302}[role]
    assert [client.get(url).status_code for url in urls] == [expected] * 4
    response = client.post(reverse("messaging:route_delete", args=[route.slug]))
    assert response.status_code == (302 if role == ADMIN else expected)
    assert Route.objects.filter(pk=route.pk).exists() == (role != ADMIN)


def test_the_nav_link_is_for_those_who_may_view_routes(client, users):  # noqa: F811
    client.force_login(users[ADMIN])
    assert f'href="{reverse("messaging:routes")}"' in client.get(reverse("overview")).content.decode()
    client.force_login(users[SUPPORT])
    assert f'href="{reverse("messaging:routes")}"' not in client.get(reverse("overview")).content.decode()


# -- create, edit, delete -------------------------------------------------------------------------


def test_an_admin_creates_a_route_with_two_providers_audited(admin, eu, us):
    data = form_data([step(eu, 1), step(us, 2, countries="us, ca, US"), step(None, 3)])
    response = admin.post(reverse("messaging:route_create"), data)
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == reverse("messaging:routes") + "#route-otp"
    route = Route.objects.get(slug="otp")
    assert route.name == "One-time codes" and route.enabled
    saved = [(s.provider.slug, s.position, s.weight, s.countries) for s in routing.steps_of(route)]
    assert saved == [("t23", 1, None, ""), ("tnx", 2, None, "US, CA")]
    entry = AuditEntry.objects.get(action="route.create")
    assert entry.target_repr == "otp"
    assert entry.details["values"] == {"slug": "otp", "name": "One-time codes", "enabled": True}
    assert entry.details["steps"] == [
        {"provider": "t23", "position": 1, "weight": None, "countries": ""},
        {"provider": "tnx", "position": 2, "weight": None, "countries": "US, CA"},
    ]
    assert KEY not in str(entry.details) and KEY[-4:] not in str(entry.details)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (lambda eu, us: [step(eu, 1), step(eu, 2)], "23 EU is already in row 1: one row per provider."),
        (lambda eu, us: [step(eu, 1, countries="GB, XX, uk")], "Not a country code: XX, UK."),
        (lambda eu, us: [step(None, 1), step(None, 2)], "A route needs at least one provider"),
        (lambda eu, us: [], "A route needs at least one provider"),
        (lambda eu, us: [step(eu, 0)], "Ensure this value is greater than or equal to 1."),
        (lambda eu, us: [step(eu, 1, weight=-1)], "Ensure this value is greater than or equal to 0."),
        (lambda eu, us: [{**step(eu, 1), "provider": "999999"}], "Select a valid choice."),
        (lambda eu, us: [step(eu, "first")], "Enter a whole number."),
    ],
    ids=["duplicate", "country", "blank-rows", "no-rows", "position", "weight", "provider", "not-a-number"],
)
def test_bad_steps_show_the_form_again_with_the_reason_and_save_nothing(admin, eu, us, steps, message):
    response = admin.post(reverse("messaging:route_create"), form_data(steps(eu, us)))
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body.replace("&#x27;", "'")
    assert "Nothing was saved" in body
    assert not Route.objects.exists() and not AuditEntry.objects.filter(action__startswith="route").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slug": "new"}, "is reserved"),
        ({"slug": "two words"}, "Enter a valid “slug”"),
        ({"name": ""}, "This field is required."),
    ],
)
def test_a_bad_route_field_is_refused_with_400(admin, eu, change, message):
    response = admin.post(reverse("messaging:route_create"), {**form_data([step(eu)]), **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Route.objects.exists()


def test_a_taken_slug_and_a_missing_management_form_are_400_not_500(admin, eu):
    make_route("otp", (eu, 1))
    assert admin.post(reverse("messaging:route_create"), form_data([step(eu)])).status_code == 400
    assert admin.post(reverse("messaging:route_create"), {"slug": "x", "name": "X"}).status_code == 400
    edit = reverse("messaging:route_edit", args=["otp"])
    assert admin.post(edit, {"name": "X", "steps-TOTAL_FORMS": "zz"}).status_code == 400
    assert Route.objects.count() == 1


def test_an_edit_swapping_and_removing_providers_is_audited_with_the_steps_before_and_after(admin, eu, us):
    third = provider("e8", "8x8 APAC")
    route = make_route("otp", (eu, 1), (us, 2), (third, 3))
    steps = routing.steps_of(route)
    # The rows as the page sends them: existing steps carry their id; the first two swap providers.
    rows = [
        {"id": steps[0].pk, "route": route.pk, **step(us, 1, weight=3)},
        {"id": steps[1].pk, "route": route.pk, **step(eu, 2, countries="gb")},
        {"id": steps[2].pk, "route": route.pk, **step(third, 3), "DELETE": "on"},
        step(None, 4),
    ]
    data = form_data(rows, name="Codes", enabled=False, initial=3)
    response = admin.post(reverse("messaging:route_edit", args=["otp"]), data)
    assert response.status_code == 302, response.content.decode()
    route.refresh_from_db()
    assert (route.name, route.enabled) == ("Codes", False)
    assert [(s.provider.slug, s.position, s.weight, s.countries) for s in routing.steps_of(route)] == [
        ("tnx", 1, 3, ""),
        ("t23", 2, None, "GB"),
    ]
    entry = AuditEntry.objects.get(action="route.change")
    assert entry.details["changes"] == {"name": ["OTP", "Codes"], "enabled": [True, False]}
    assert [row["provider"] for row in entry.details["steps_before"]] == ["t23", "tnx", "e8"]
    assert [row["provider"] for row in entry.details["steps_after"]] == ["tnx", "t23"]

    # The same form again changes nothing and writes nothing.
    steps = routing.steps_of(route)
    rows = [{"id": s.pk, "route": route.pk, **step(s.provider, s.position, s.weight, s.countries)} for s in steps]
    response = admin.post(
        reverse("messaging:route_edit", args=["otp"]), form_data(rows, name="Codes", enabled=False, initial=2)
    )
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="route.change").count() == 1


def test_the_edit_page_shows_the_saved_steps_and_keeps_the_slug(admin, eu, us):
    make_route("otp", (eu, 1), (us, 2))
    body = admin.get(reverse("messaging:route_edit", args=["otp"])).content.decode()
    assert body.count("<fieldset") == 4  # two saved rows, two blank ones
    assert "Fixed once the route exists" in body
    response = admin.post(reverse("messaging:route_edit", args=["otp"]), {**form_data([]), "slug": "other"})
    assert response.status_code == 400  # no steps: the slug was never going to change
    assert Route.objects.filter(slug="otp").exists()


def test_deleting_a_route_asks_first_and_is_audited(admin, eu):
    route = make_route("otp", (eu, 1))
    send = Send.objects.create(provider=eu, recipient="+447700900001", body="hi", route=route, routing=[])
    page = admin.get(reverse("messaging:route_delete", args=["otp"]))
    assert page.status_code == 200 and "Delete route otp?" in page.content.decode()
    assert Route.objects.filter(pk=route.pk).exists()
    response = admin.post(reverse("messaging:route_delete", args=["otp"]))
    assert response.status_code == 302 and response["Location"] == reverse("messaging:routes")
    assert not Route.objects.exists() and not RouteStep.objects.exists()
    entry = AuditEntry.objects.get(action="route.delete")
    assert entry.details["values"]["slug"] == "otp"
    assert entry.details["steps"] == [{"provider": "t23", "position": 1, "weight": None, "countries": ""}]
    send.refresh_from_db()
    assert send.route_id is None
    assert admin.post(reverse("messaging:route_delete", args=["otp"])).status_code == 404


# -- the live state -------------------------------------------------------------------------------


def states_on_page(admin, slug: str) -> dict[str, tuple[str, str]]:
    """{provider slug: (state, words)} of the route's rows on the Routes page."""
    body = admin.get(reverse("messaging:routes")).content.decode()
    section = body.split(f'id="route-{slug}"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(
        r'<tr class="step-[a-z]+" data-provider="([^"]+)">.*?data-state="([a-z]+)">([^<]*)</td>', section, re.S
    )
    return {provider: (state, words) for provider, state, words in rows}


@pytest.mark.parametrize(
    ("first_fields", "reason"),
    [
        ({"enabled": False}, "not used: disabled"),
        (
            {"status": ProviderStatus.CRITICAL, "status_detail": "balance 3.00 EUR"},
            "not used: critical: balance 3.00 EUR",
        ),
        ({"status": ProviderStatus.CREDENTIAL_FAILED}, "not used: its API key was refused"),
        ({"key": False}, "not used: 23 Down has no active API key"),
        ({"breaker_open_until": timezone.now() + timedelta(minutes=5)}, "not used: circuit breaker open until"),
    ],
    ids=["disabled", "critical", "key-refused", "no-key", "breaker"],
)
def test_the_page_says_which_provider_takes_traffic_now_and_why_the_others_do_not(admin, us, first_fields, reason):
    key = first_fields.pop("key", True)
    down = provider("down", "23 Down", key=key, **first_fields)
    route = make_route("otp", (down, 1), (us, 2))
    states = states_on_page(admin, "otp")
    assert states["down"][0] == "unusable" and states["down"][1].startswith(reason)
    assert states["tnx"] == ("now", "takes traffic now")
    assert routing.choose(route, "").provider == us  # what the send API would do


def test_the_first_usable_provider_takes_traffic_and_the_rest_stand_by(admin, eu, us):
    make_route("otp", (eu, 1), (us, 2))
    assert states_on_page(admin, "otp") == {
        "t23": ("now", "takes traffic now"),
        "tnx": ("standby", "standby: takes traffic when the providers above fail or can&#x27;t"),
    }


def test_providers_sharing_a_position_split_by_weight_and_country_steps_say_their_countries(admin, eu, us):
    gb = provider("gb", "GB only")
    route = make_route("otp")
    RouteStep.objects.create(route=route, provider=gb, position=1, countries="GB, IE")
    RouteStep.objects.create(route=route, provider=eu, position=2, weight=3)
    RouteStep.objects.create(route=route, provider=us, position=2, weight=1)
    states = states_on_page(admin, "otp")
    assert states["gb"] == ("countries", "takes traffic to GB, IE now")
    assert states["t23"] == ("split", "split by weight: takes 75% of traffic now")
    assert states["tnx"] == ("split", "split by weight: takes 25% of traffic now")
    assert routing.choose(route, "").provider in (eu, us)


def test_a_route_where_no_provider_can_take_traffic_says_so(admin):
    down = provider("down", "23 Down", enabled=False)
    make_route("otp", (down, 1), enabled=False)
    body = admin.get(reverse("messaging:routes")).content.decode()
    assert "No provider takes traffic to recipients of every country now" in body
    assert "disabled</span>" in body


def test_a_disabled_route_says_who_would_take_traffic(admin, eu):
    make_route("otp", (eu, 1), enabled=False)
    assert states_on_page(admin, "otp") == {"t23": ("now", "would take traffic now")}
    assert "Disabled. If enabled, 23 EU would take traffic." in admin.get(reverse("messaging:routes")).content.decode()


def test_the_routes_page_asks_each_provider_once(admin, eu, us, django_assert_max_num_queries):
    make_route("a", (eu, 1), (us, 2))
    with django_assert_max_num_queries(30) as one:
        admin.get(reverse("messaging:routes"))
    for slug in "bcdef":
        make_route(slug, (eu, 1), (us, 2))
    with django_assert_max_num_queries(len(one.captured_queries)):
        admin.get(reverse("messaging:routes"))


# -- the send's trail and the failovers -----------------------------------------------------------


def routed_send(route, made, trail, *, hours_ago=1.0, reason=""):
    # As sending._fail_over leaves it: one failover per move to another provider.
    moves = sum(1 for entry in trail if isinstance(entry, dict) and entry.get("provider")) - 1
    send = Send.objects.create(
        provider=made,
        recipient="+447700900001",
        body="hi",
        route=route,
        routing=trail,
        status_reason=reason,
        failovers=max(moves, 1 if reason.startswith("failed over") else 0),
    )
    Send.objects.filter(pk=send.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
    return send


TRAIL = [
    {"at": "2026-12-01T20:57:03.120000+00:00", "words": "chose t23", "provider": "t23"},
    {
        "at": "2026-12-01T20:57:04+00:00",
        "words": "t23 failed with 402 (balance); skipped down: disabled; chose tnx",
        "provider": "tnx",
    },
]


def test_the_send_page_lists_the_routing_decisions_with_their_times(admin, users, eu, us, settings):  # noqa: F811
    settings.TIME_ZONE = "UTC"
    route = make_route("otp", (eu, 1), (us, 2))
    send = routed_send(route, us, [*TRAIL, {"at": "not a time", "words": "odd"}])
    body = admin.get(reverse("messaging:send_detail", args=[send.pk])).content.decode()
    assert '<h2 id="routing-title">Routing</h2>' in body
    assert f'<a href="{reverse("messaging:routes")}#route-otp"><code>otp</code></a>' in body
    assert '<time datetime="2026-12-01T20:57:03.120000+00:00">1 Dec 2026 20:57:03</time> — chose t23' in body
    assert "1 Dec 2026 20:57:04</time> — t23 failed with 402 (balance); skipped down: disabled; chose tnx" in body
    assert '<span class="muted">time unknown</span> — odd' in body

    plain = Send.objects.create(provider=eu, recipient="+447700900002", body="hi")
    assert "Routing</h2>" not in admin.get(reverse("messaging:send_detail", args=[plain.pk])).content.decode()

    admin.force_login(users[SUPPORT])  # may read sends, not routes: the slug without a link
    body = admin.get(reverse("messaging:send_detail", args=[send.pk])).content.decode()
    assert "<code>otp</code>" in body and "#route-otp" not in body


def test_the_overview_counts_the_sends_that_failed_over_in_24_h(admin, users, eu, us):  # noqa: F811  # noqa: F811
    assert 'data-figure="failovers"' not in admin.get(reverse("overview")).content.decode()  # no routes
    route = make_route("otp", (eu, 1), (us, 2))
    moved = routed_send(route, us, TRAIL)
    waiting = routed_send(route, us, TRAIL[:1], reason="failed over from t23 to tnx", hours_ago=2)
    routed_send(route, eu, TRAIL[:1])  # one provider: no failover
    routed_send(route, us, TRAIL, hours_ago=25)  # before the window
    Send.objects.create(provider=eu, recipient="+447700900003", body="hi", routing=TRAIL)  # no route

    body = admin.get(reverse("overview")).content.decode()
    link = f'<a id="failovers-link" href="{reverse("messaging:routes")}#failovers">'
    assert link + '<span data-figure="failover-count">2</span> sends failed over in 24 h</a>' in body

    page = admin.get(reverse("messaging:routes")).content.decode()
    listed = page.split('id="failovers"', 1)[1]
    assert listed.index(f">{moved.pk}</a>") < listed.index(f">{waiting.pk}</a>")  # newest first
    assert "t23 → tnx" in listed
    assert listed.count(reverse("messaging:send_detail", args=[moved.pk])) == 1
    assert listed.count('<tr><th scope="row">') == 2

    admin.force_login(users[MANAGER])  # sees the figure, may not open the Routes page
    body = admin.get(reverse("overview")).content.decode()
    assert '<span data-figure="failover-count">2</span> sends failed over in 24 h' in body and link not in body
