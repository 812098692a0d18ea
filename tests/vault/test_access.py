"""Who can reach what: a test generated from the URLconf, the roles, brute-force lockout, idle sessions."""

from __future__ import annotations

import importlib
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from messaging.models import Alert, AuditEntry, Credential, Route, RouteStep, Send
from messaging.traffic.verify import verify as verify_key
from messaging.vault.permissions import is_marked
from messaging.vault.roles import ROLE_PERMISSIONS, resolve
from messaging.vault.sessions import RENEWED_AT
from tests.vault.conftest import PASSWORD, ROLE_NAMES, Urls, reauthenticate, states

pytestmark = pytest.mark.django_db

# GET status for a user who holds the view's permissions, where it is not 200.
PERMITTED_GET_STATUS = {
    "messaging:credential_add": 302,  # the password prompt first
    "messaging:credential_revoke": 302,  # the password prompt first
    "messaging:credential_verify": 405,
    "messaging:credential_activate": 405,
    "messaging:credential_rollback": 302,  # the password prompt first, then a confirmation
    "messaging:decode": 405,
    "messaging:provider_watch": 405,
    "messaging:error_code": 400,  # without a provider and a code in the query
    "messaging:alert_acknowledge": 405,
    "messaging:alert_resolve": 405,
    "messaging:provider_poll": 405,
    "messaging:route_test_messages": 405,
    "messaging:simulator_action": 405,
}
# GET status of the intentionally public views, the same for everyone.
PUBLIC_GET_STATUS = {"health": 200, "login": 200, "logout": 405, "simulator": 404, "favicon": 302}


def walk(patterns, prefix="", namespace=""):
    """(route, name, callback, kwarg names) of every view in the URLconf, minus the Django admin."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin" or pattern.namespace == "admin":
                continue  # the Django admin has its own permission system (is_staff + model permissions)
            child_ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), child_ns)
        elif isinstance(pattern, URLPattern):
            if pattern.callback.__module__.startswith("django.views.static"):
                continue
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), name, pattern.callback, list(pattern.pattern.regex.groupindex)


VIEWS = list(walk(get_resolver().url_patterns))


def test_the_walk_finds_the_views():
    names = {name for _, name, _, _ in VIEWS}
    assert {"overview", "health", "login", "messaging:credentials", "messaging:reauth"} <= names


@pytest.mark.parametrize(("route", "name", "callback", "kwargs"), VIEWS, ids=[v[1] or v[0] for v in VIEWS])
def test_every_view_is_either_permission_checked_or_explicitly_public(route, name, callback, kwargs):
    assert is_marked(callback), (
        f"{route} ({name}) has neither @requires(...) nor @public: decorate it with messaging.vault.permissions"
    )


@pytest.fixture
def fixtures(simulator, make_provider, users):
    provider = make_provider("23telecom", simulator.root)
    credential = Credential.objects.get(provider=provider)
    send = Send.objects.create(provider=provider, recipient="+447700900001", body="hi")
    at = send.created_at
    alert = Alert.objects.create(
        provider=provider, kind="low_balance", dedupe_key="low_balance:x", title="Low", opened_at=at, last_seen_at=at
    )
    route = Route.objects.create(slug="otp", name="OTP")
    RouteStep.objects.create(route=route, provider=provider, position=1)
    return {"provider": provider, "credential": credential, "send": send, "alert": alert, "route": route}


def url_for(name, route, kwargs, fx) -> str:
    values = {}
    for kwarg in kwargs:
        if kwarg == "slug" and name.startswith("messaging:route"):
            values[kwarg] = fx["route"].slug
        elif kwarg == "slug":
            values[kwarg] = fx["provider"].slug
        elif kwarg == "pk" and name.startswith("messaging:alert"):
            values[kwarg] = fx["alert"].pk
        elif kwarg == "pk":
            values[kwarg] = fx["send"].pk if name == "messaging:send_detail" else fx["credential"].pk
        elif kwarg == "rest":
            values[kwarg] = ""
        elif kwarg == "action":  # the demo's simulator controls
            values[kwarg] = "drain"
        else:
            raise AssertionError(f"{route}: teach url_for() a value for the URL argument {kwarg!r}")
    return reverse(name, kwargs=values)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_url_answers_every_role_as_its_permissions_say(client, fixtures, users, role):
    user = users[role]
    if user is not None:
        client.force_login(user)
    problems = []
    for route, name, callback, kwargs in VIEWS:
        assert name, f"{route} needs a name so it can be tested"
        url = url_for(name, route, kwargs, fixtures)
        response = client.get(url)
        if getattr(callback, "public", False):
            expected = PUBLIC_GET_STATUS.get(name)
            ok = response.status_code == expected if expected else response.status_code < 500
            ok = ok and not response.get("Location", "").startswith(reverse("login"))
        else:
            perms = callback.required_permissions
            if user is None:
                expected = 302
                ok = response.status_code == 302 and response["Location"].startswith(reverse("login") + "?next=")
            elif not user.has_perms(perms):
                expected = 403
                ok = response.status_code == 403
            else:
                expected = PERMITTED_GET_STATUS.get(name, 200)
                ok = response.status_code == expected
        if not ok:
            problems.append(f"{role} GET {url} ({name}): {response.status_code}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_an_anonymous_htmx_request_gets_a_client_redirect_to_the_login_page(client, fixtures):
    credential = fixtures["credential"]
    url = reverse("messaging:credential_verify", args=[fixtures["provider"].slug, credential.pk])
    response = client.post(url, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/credentials/")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("login") + "?next=%2Fcredentials%2F"


@pytest.mark.parametrize("role", ["Support", "Account manager", "no group", "anonymous"])
def test_no_other_role_can_reach_any_credential_view_or_action(client, simulator, make_provider, users, role):
    provider = make_provider("telnxo", simulator.root, key="the_old_key_0001")
    from messaging.vault import keys as credentials

    first = credentials.add_pending(provider, "the_new_key_0002")
    verify_key(first)
    credentials.activate(first)
    pending = credentials.add_pending(provider, "the_next_key_0003")
    verify_key(pending)
    before = states(provider)
    audits = AuditEntry.objects.count()
    if users[role] is not None:
        client.force_login(users[role])
        reauthenticate(client)  # even with a fresh password the permission decides
    urls = Urls(provider)
    active = Credential.objects.get(provider=provider, state="active")
    expected = 403 if users[role] is not None else 302
    gets = [reverse("messaging:credential_index"), urls.list, urls.add, urls.revoke(active)]
    posts = [
        (urls.add, {"key": "intruder_key_9999"}),
        (urls.verify(pending), {}),
        (urls.activate(pending), {"grace": "3600"}),
        (urls.rollback, {}),
        (urls.revoke(active), {"confirmation": active.hint}),
    ]
    for url in gets:
        assert client.get(url).status_code == expected, url
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == (403 if expected == 403 else 200), url
    for url, data in posts:
        assert client.post(url, data).status_code == expected, url
    assert states(provider) == before
    assert AuditEntry.objects.count() == audits
    if users[role] is not None:
        assert b"API keys" not in client.get("/").content  # no nav link without the permission


# -- roles ----------------------------------------------------------------------------


def test_the_migration_created_the_roles_of_messaging_roles(db):
    migration = importlib.import_module("messaging.migrations.0003_roles")
    assert migration.ROLES == ROLE_PERMISSIONS
    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        assert set(group.permissions.all()) == set(resolve(Permission, names)), role


def test_what_each_role_may_do(users):
    support, manager, admin = users["Support"], users["Account manager"], users["Admin"]
    assert support.has_perms(["messaging.send_message", "messaging.view_send", "messaging.view_errorevent"])
    assert not support.has_perm("messaging.acknowledge_alert") and not support.has_perm("messaging.edit_thresholds")
    assert manager.has_perms(["messaging.acknowledge_alert", "messaging.edit_thresholds", "messaging.poll_provider"])
    assert not manager.has_perm("messaging.send_message")
    for user in (support, manager, users["no group"]):
        assert not user.has_perm("messaging.manage_credentials")
        assert not user.has_perm("messaging.view_auditentry")
    assert admin.has_perms(
        [
            "messaging.manage_credentials",
            "messaging.add_provider",
            "messaging.change_provider",
            "messaging.view_auditentry",
            "auth.add_user",
            "auth.change_group",
        ]
    )


def test_demo_users_creates_one_login_per_role(settings, tmp_path, roles, django_user_model):
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    out = StringIO()
    call_command("demo_users", stdout=out)
    password = (tmp_path / "demo-password").read_text().strip()
    text = out.getvalue()
    for username, role in (("admin", "Admin"), ("support", "Support"), ("manager", "Account manager")):
        user = django_user_model.objects.get(username=username)
        assert user.check_password(password)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert f"username '{username}'" in text and role in text
    assert django_user_model.objects.get(username="admin").is_superuser
    assert not django_user_model.objects.get(username="support").is_staff


# -- brute force and idle sessions ------------------------------------------------------


def login(client, username, password, ip):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_out_that_username_from_that_address(client, users, settings):
    assert settings.SENDWATCH_LOGIN_FAILURE_LIMIT == 5 and settings.AXES_LOCKOUT_PARAMETERS == [
        ["username", "ip_address"]
    ]
    for _ in range(4):
        assert login(client, "keyadmin", "wrong-password", "198.51.100.1").status_code == 200
    locked = login(client, "keyadmin", "wrong-password", "198.51.100.1")
    assert locked.status_code == 429
    assert b"Too many failed attempts" in locked.content and b"0:15:00" in locked.content
    # Even the right password is refused now, from that address, for that user.
    response = login(client, "keyadmin", PASSWORD, "198.51.100.1")
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    # Another user from that address, and that user from another address, are not locked out.
    assert login(client, "support1", PASSWORD, "198.51.100.1").status_code == 302
    client.logout()
    assert login(client, "keyadmin", PASSWORD, "198.51.100.2").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, users, settings):
    from axes.models import AccessAttempt

    for _ in range(5):
        login(client, "keyadmin", "wrong-password", "198.51.100.3")
    assert login(client, "keyadmin", PASSWORD, "198.51.100.3").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert login(client, "keyadmin", PASSWORD, "198.51.100.3").status_code == 302
    # A success resets the count.
    assert not AccessAttempt.objects.filter(username="keyadmin", ip_address="198.51.100.3").exists()


def test_wrong_passwords_at_the_re_authentication_prompt_count_too(client, users):
    client.force_login(users["Admin"])
    url = reverse("messaging:reauth")
    for _ in range(4):
        assert client.post(url, {"password": "guess"}, REMOTE_ADDR="198.51.100.4").status_code == 400
    assert client.post(url, {"password": "guess"}, REMOTE_ADDR="198.51.100.4").status_code == 429
    assert client.post(url, {"password": PASSWORD}, REMOTE_ADDR="198.51.100.4").status_code == 429
    assert not client.session.get("sendwatch_reauth_at")


def renewed_long_ago(client) -> None:
    """As if the session's last renewal was two minutes ago."""
    session = client.session
    session[RENEWED_AT] = time.time() - 120
    session.save()


def test_sessions_end_after_the_idle_timeout_and_each_request_extends_them(client, users, settings):
    assert settings.SESSION_COOKIE_AGE == 3600 and settings.SENDWATCH_SESSION_RENEW_SECONDS == 60
    client.force_login(users["Support"])
    renewed_long_ago(client)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=5))
    assert client.get("/").status_code == 200
    extended = Session.objects.get(session_key=client.session.session_key).expire_date
    assert extended > timezone.now() + timedelta(minutes=59)
    # An hour without a request: the session is gone.
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_migrate_brings_back_missing_roles_and_leaves_changed_ones_alone(db):
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from messaging.vault.roles import ACCOUNT_MANAGER, ROLE_PERMISSIONS, SUPPORT

    Group.objects.filter(name=SUPPORT).delete()
    changed = Group.objects.get(name=ACCOUNT_MANAGER)
    changed.permissions.clear()
    call_command("migrate", verbosity=0)  # post_migrate, as after `manage.py flush`
    assert Group.objects.get(name=SUPPORT).permissions.count() == len(ROLE_PERMISSIONS[SUPPORT])
    assert Group.objects.get(name=ACCOUNT_MANAGER).permissions.count() == 0


def test_a_session_is_written_at_most_once_a_minute(client, users):
    client.force_login(users["Support"])
    renewed_long_ago(client)
    client.get("/")  # renews: one write
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=30))
    for _ in range(3):
        assert client.get("/").status_code == 200
    # Within the minute no request wrote the session: its expiry is where the test put it.
    assert Session.objects.get(session_key=key).expire_date < timezone.now() + timedelta(minutes=31)
    renewed_long_ago(client)
    client.get("/")
    assert Session.objects.get(session_key=key).expire_date > timezone.now() + timedelta(minutes=59)
