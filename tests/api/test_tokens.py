"""API tokens: stored as a hash only, shown once, listed without the token, revoked for good."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from messaging.models import ApiToken, AuditEntry
from messaging.vault import tokens

pytestmark = pytest.mark.django_db

TOKEN_RE = re.compile(r"^swk_[A-Za-z0-9_-]{43}$", re.M)
PAYLOAD = {"provider": "t23", "events": [{"http_status": 200, "body": ""}]}


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _create(name: str = "billing-service") -> tuple[str, str]:
    output = run("create_api_token", name, "--providers", "all")
    (token,) = TOKEN_RE.findall(output)
    return output, token


def _row_text(row: ApiToken) -> str:
    return " ".join(str(getattr(row, f.attname)) for f in ApiToken._meta.concrete_fields)


def test_create_prints_the_token_once_and_stores_only_its_hash():
    output, token = _create()
    assert output.count(token) == 1
    assert "Store it now" in output and "only time" in output
    row = ApiToken.objects.get()
    assert row.name == "billing-service"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:8] and row.prefix.startswith("swk_")
    assert token not in _row_text(row) and token[8:] not in _row_text(row)
    assert row.revoked_at is None and row.last_used_at is None
    audit = AuditEntry.objects.get(action="api_token.create")
    assert token not in str(audit.details) and audit.target_id == str(row.pk)


def test_two_tokens_differ():
    _, first = _create("a")
    _, second = _create("b")
    assert first != second
    assert ApiToken.objects.values("token_hash").distinct().count() == 2


def test_create_refuses_a_blank_name():
    with pytest.raises(CommandError):
        run("create_api_token", "   ", "--providers", "all")
    assert not ApiToken.objects.exists()


def test_create_can_record_its_creator(admin_user):
    run("create_api_token", "ci", "--providers", "all", "--user", admin_user.username)
    assert ApiToken.objects.get().created_by == admin_user
    with pytest.raises(CommandError, match="no user"):
        run("create_api_token", "ci", "--providers", "all", "--user", "nobody")


def test_a_created_token_authenticates(post, vendors):
    _, token = _create()
    assert post(PAYLOAD, auth=f"Bearer {token}").status_code == 200
    assert ApiToken.objects.get(prefix=token[:8]).last_used_at is not None


def test_list_shows_every_token_but_never_the_token():
    _, first = _create("first")
    _, second = _create("second")
    tokens.revoke(ApiToken.objects.get(name="first"))
    output = run("list_api_tokens")
    lines = output.splitlines()
    assert lines[0].split() == ["ID", "NAME", "PREFIX", "SCOPES", "PROVIDERS", "CREATED", "LAST", "USED", "REVOKED"]
    assert first[:8] in output and second[:8] in output
    for token in (first, second):
        assert token not in output and token[8:16] not in output
    for row in ApiToken.objects.all():
        assert row.token_hash not in output
    first_line = next(line for line in lines if " first " in line)
    assert first_line.rstrip().endswith("UTC")  # revoked: a time
    second_line = next(line for line in lines if " second " in line)
    assert second_line.rstrip().endswith("-")  # not revoked


def test_list_with_no_tokens_says_how_to_make_one():
    assert "create_api_token" in run("list_api_tokens")


@pytest.mark.parametrize("by", ["prefix", "id", "whole token"])
def test_revoke_by_prefix_or_id_then_the_token_is_refused(post, vendors, by):
    _, token = _create()
    row = ApiToken.objects.get(prefix=token[:8])  # the post fixture made another token
    argument = {"prefix": row.prefix, "id": str(row.pk), "whole token": token}[by]
    output = run("revoke_api_token", argument)
    assert "Revoked" in output and token not in output
    row.refresh_from_db()
    assert row.revoked_at is not None
    response = post(PAYLOAD, auth=f"Bearer {token}")
    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]
    assert AuditEntry.objects.filter(action="api_token.revoke", target_id=str(row.pk)).count() == 1


def test_revoking_twice_keeps_the_first_time():
    _create()
    row = ApiToken.objects.get()
    run("revoke_api_token", row.prefix)
    row.refresh_from_db()
    first = row.revoked_at
    assert "already revoked" in run("revoke_api_token", row.prefix)
    row.refresh_from_db()
    assert row.revoked_at == first


def test_revoke_names_what_it_could_not_find():
    with pytest.raises(CommandError, match="No API token has the id or prefix 'swk_nope'"):
        run("revoke_api_token", "swk_nope")
    with pytest.raises(CommandError, match="No API token"):
        run("revoke_api_token", "999999")


def test_revoke_never_echoes_a_mistyped_whole_token():
    _, token = _create()
    typo = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(CommandError) as raised:
        run("revoke_api_token", typo)
    assert typo[8:] not in str(raised.value)
    assert ApiToken.objects.get().revoked_at is None


def test_revoke_refuses_an_ambiguous_prefix():
    for name in ("one", "two"):
        row, _ = tokens.create_token(name, providers=tokens.ALL_PROVIDERS)
        ApiToken.objects.filter(pk=row.pk).update(prefix="swk_same")
    with pytest.raises(CommandError, match="2 API tokens share the prefix 'swk_same'"):
        run("revoke_api_token", "swk_same")
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_parse_authorization_never_shows_the_token():
    _, token = _create()
    credentials = tokens.parse_authorization(f"Bearer {token}")
    assert credentials.token == token
    assert token not in repr(credentials) and token not in str(credentials)


# -- admin ---------------------------------------------------------------------------------------


def test_admin_lists_tokens_without_the_token_or_hash_and_revokes(client, admin_user):
    _, token = _create("admin-listed")
    row = ApiToken.objects.get()
    client.force_login(admin_user)
    changelist = reverse("admin:messaging_apitoken_changelist")
    page = client.get(changelist).content.decode()
    assert "admin-listed" in page and row.prefix in page
    assert token not in page and row.token_hash not in page
    change = client.get(reverse("admin:messaging_apitoken_change", args=[row.pk])).content.decode()
    assert token not in change and row.token_hash not in change and 'name="token_hash"' not in change
    assert client.get(reverse("admin:messaging_apitoken_add")).status_code == 403
    response = client.post(changelist, {"action": "revoke_tokens", "_selected_action": [row.pk]})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert AuditEntry.objects.filter(action="api_token.revoke", actor=admin_user).count() == 1


def test_admin_cannot_change_the_prefix_or_revocation(client, admin_user):
    _create("before")
    row = ApiToken.objects.get()
    client.force_login(admin_user)
    client.post(
        reverse("admin:messaging_apitoken_change", args=[row.pk]),
        {"name": "after", "prefix": "swk_evil", "revoked_at": "", "token_hash": "0" * 64},
    )
    fresh = ApiToken.objects.get()
    assert fresh.name == "after"
    assert (fresh.prefix, fresh.token_hash) == (row.prefix, row.token_hash)
