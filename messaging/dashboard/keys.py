"""Pages for rotating vendor API keys (admins with messaging.manage_credentials only).

Every state change is a POST behind ``@requires`` and ``@recent_auth_required``
(the password re-entered within SENDWATCH_REAUTH_SECONDS). Keys are typed
into a password field that is never rendered back, and the views that receive
them hide their POST values from error reports.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging.dashboard.http import HtmxHttpRequest
from messaging.models import Credential, Provider
from messaging.traffic import verify
from messaging.vault import audit
from messaging.vault import keys as credentials
from messaging.vault.actor import Actor
from messaging.vault.adapters import bound_to_current_origin
from messaging.vault.crypto import VaultError
from messaging.vault.keys import CredentialError
from messaging.vault.permissions import (
    mark_reauthenticated,
    reauth_seconds,
    reauth_seconds_left,
    recent_auth_required,
    requires,
)

MANAGE = "messaging.manage_credentials"
LIST_TEMPLATE = "messaging/credentials/list.html"
# Every key state in words, shown under the keys table: the badges alone left admins guessing.
STATE_WORDS = {
    Credential.State.PENDING: "Added, not used yet. Verify it with a live balance call, then activate or discard it.",
    Credential.State.ACTIVE: "The key Sendwatch sends and polls with. Only one key is active at a time.",
    Credential.State.RETIRED: (
        "The previous key, still used as a fallback if the vendor refuses the active one, until its grace period "
        "ends; then it is revoked. Until then you can roll back to it."
    ),
    Credential.State.REVOKED: "Never used again and can't come back. Revoke it at the vendor too.",
}


class AddKeyForm(forms.Form):
    key = forms.CharField(
        label="API key",
        min_length=credentials.MIN_KEY_LENGTH,
        max_length=credentials.MAX_KEY_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    secret = forms.CharField(
        label="Secret (only for vendors that issue one)",
        required=False,
        max_length=credentials.MAX_KEY_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    label = forms.CharField(label="Label", required=False, max_length=100)


class ActivateForm(forms.Form):
    grace = forms.TypedChoiceField(
        label="Keep the old key working for",
        choices=credentials.GRACE_CHOICES,
        coerce=int,
        initial=credentials.DEFAULT_GRACE_SECONDS,
    )


class RevokeForm(forms.Form):
    confirmation = forms.CharField(label="Type the key's last four characters to confirm", max_length=8)


class ReauthForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


# -- pages ------------------------------------------------------------------------------


@never_cache
@requires(MANAGE)
@require_GET
def credential_index(request: HttpRequest) -> HttpResponse:
    live = Credential.objects.exclude(state=Credential.State.REVOKED).order_by("-created_at")
    providers = Provider.objects.prefetch_related(Prefetch("credentials", queryset=live, to_attr="live_credentials"))
    now = timezone.now()
    rows = []
    for provider in providers.order_by("name"):
        active = next((c for c in provider.live_credentials if c.state == Credential.State.ACTIVE), None)
        rows.append(
            {
                "provider": provider,
                "active": active,
                # The API URL moved since the active key was verified: it is not sent anywhere until verified again.
                "active_unbound": bool(active and not bound_to_current_origin(provider, active)),
                "too_old": bool(active and credentials.too_old(active, now)),
                "age_days": credentials.age_days(active, now) if active else None,
                "pending": any(c.state == Credential.State.PENDING for c in provider.live_credentials),
                "retired": any(c.state == Credential.State.RETIRED for c in provider.live_credentials),
            }
        )
    return render(
        request, "messaging/credentials/index.html", {"rows": rows, "max_age_days": credentials.max_age().days}
    )


@never_cache
@requires(MANAGE)
@require_GET
def credential_list(request: HttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(Provider, slug=slug)
    return render(request, LIST_TEMPLATE, _list_context(request, provider))


def _row(credential: Credential, now) -> dict:
    return {
        "credential": credential,
        # Not verified for the origin the provider's API URL names now: never sent there until it is.
        "needs_origin": credential.state != Credential.State.REVOKED
        and not bound_to_current_origin(credential.provider, credential),
        "age_days": credentials.age_days(credential, now),
        "too_old": credentials.too_old(credential, now),
        "in_grace": credential.state == Credential.State.RETIRED
        and credential.grace_until is not None
        and credential.grace_until > now,
    }


def _row_context(provider: Provider) -> dict:
    """What the credential-row partial needs besides the row itself."""
    return {
        "provider": provider,
        "provider_slug": provider.slug,
        "grace_choices": credentials.GRACE_CHOICES,
        "default_grace": credentials.DEFAULT_GRACE_SECONDS,
        "max_age_days": credentials.max_age().days,
        "api_origin": provider.api_origin,
    }


def _list_context(request: HttpRequest, provider: Provider) -> dict:
    now = timezone.now()
    rows = [
        _row(credential, now)
        for credential in provider.credentials.select_related("created_by").order_by("-created_at", "-pk")
    ]
    return {
        **_row_context(provider),
        "rows": rows,
        "unbound_hints": [r["credential"].hint for r in rows if r["needs_origin"] and r["credential"].verified_origin],
        "has_pending": any(r["credential"].state == Credential.State.PENDING for r in rows),
        "can_roll_back": any(r["in_grace"] for r in rows),
        "reauth_left": reauth_seconds_left(request),
        "key_states": [(state.value, state.label, STATE_WORDS[state]) for state in Credential.State],
    }


@never_cache
@sensitive_post_parameters("key", "secret")
@requires(MANAGE)
@require_http_methods(["GET", "POST"])
@recent_auth_required
@sensitive_variables()
def credential_add(request: HttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(Provider, slug=slug)
    pending = provider.credentials.filter(state=Credential.State.PENDING).first()
    form = AddKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credential = credentials.add_pending(
                provider,
                form.cleaned_data["key"],
                form.cleaned_data["secret"] or None,
                form.cleaned_data["label"],
                actor=Actor.from_request(request),
            )
        except (CredentialError, VaultError) as exc:  # VaultError: the ring can't open stored keys
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Key …{credential.hint} saved as pending. Verify it, then activate it.")
            return redirect("messaging:credentials", slug=provider.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "messaging/credentials/add.html",
        {"provider": provider, "form": form, "pending": pending},
        status=status,
    )


@requires(MANAGE)
@require_POST
@recent_auth_required
def credential_verify(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    credential = get_object_or_404(Credential.objects.select_related("provider"), pk=pk, provider__slug=slug)
    try:
        result = verify.verify(credential, actor=Actor.from_request(request))
        error = ""
    except CredentialError as exc:
        result, error = None, str(exc)
    if request.htmx:
        credential = Credential.objects.select_related("provider", "created_by").get(pk=credential.pk)
        context = {**_row_context(credential.provider), **_row(credential, timezone.now()), "error": error}
        return render(request, f"{LIST_TEMPLATE}#credential-row", context, status=200)
    if result is None:
        messages.error(request, error)
    elif result.ok:
        messages.success(request, f"Key …{credential.hint} verified: {result.message}")
    else:
        messages.error(request, f"Key …{credential.hint} was refused: {result.code} {result.message}")
    return redirect("messaging:credentials", slug=slug)


@requires(MANAGE)
@require_POST
@recent_auth_required
def credential_activate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    credential = get_object_or_404(Credential.objects.select_related("provider"), pk=pk, provider__slug=slug)
    form = ActivateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the offered grace periods.")
        return redirect("messaging:credentials", slug=slug)
    try:
        credentials.activate(
            credential, timedelta(seconds=form.cleaned_data["grace"]), actor=Actor.from_request(request)
        )
    except CredentialError as exc:
        messages.error(request, str(exc))
    else:
        label = dict(credentials.GRACE_CHOICES)[form.cleaned_data["grace"]]
        messages.success(
            request, f"Key …{credential.hint} is active. The previous key keeps working for {label} as a fallback."
        )
    return redirect("messaging:credentials", slug=slug)


@never_cache
@requires(MANAGE)
@require_http_methods(["GET", "POST"])
@recent_auth_required
def credential_rollback(request: HttpRequest, slug: str) -> HttpResponse:
    """GET asks to confirm (which key comes back, which is revoked); POST rolls back."""
    provider = get_object_or_404(Provider, slug=slug)
    if request.method == "GET":
        now = timezone.now()
        live = provider.credentials.exclude(state=Credential.State.REVOKED)
        previous = (
            live.filter(state=Credential.State.RETIRED, grace_until__gt=now).order_by("-retired_at", "-pk").first()
        )
        if previous is None:
            messages.error(request, "There is no previous key within its grace period to roll back to.")
            return redirect("messaging:credentials", slug=slug)
        current = live.filter(state=Credential.State.ACTIVE).first()
        context = {"provider": provider, "previous": previous, "current": current}
        return render(request, "messaging/credentials/rollback.html", context)
    try:
        restored = credentials.rollback(provider, actor=Actor.from_request(request))
    except CredentialError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back: key …{restored.hint} is active again; the newer key is revoked.")
    return redirect("messaging:credentials", slug=slug)


@never_cache
@requires(MANAGE)
@require_http_methods(["GET", "POST"])
@recent_auth_required
def credential_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    credential = get_object_or_404(Credential.objects.select_related("provider"), pk=pk, provider__slug=slug)
    if credential.state == Credential.State.REVOKED:
        messages.info(request, f"Key …{credential.hint} is already revoked.")
        return redirect("messaging:credentials", slug=slug)
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credentials.revoke(
                credential, confirmation=form.cleaned_data["confirmation"], actor=Actor.from_request(request)
            )
        except CredentialError as exc:
            form.add_error("confirmation", str(exc))
        else:
            messages.warning(request, f"Key …{credential.hint} is revoked.")
            return redirect("messaging:credentials", slug=slug)
    return render(
        request,
        "messaging/credentials/revoke.html",
        {"provider": credential.provider, "credential": credential, "form": form},
        status=400 if request.method == "POST" else 200,
    )


# -- re-authentication ---------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("password")
@requires()
@require_http_methods(["GET", "POST"])
@sensitive_variables("password")
def reauth(request: HttpRequest) -> HttpResponse:
    """The "sudo mode" prompt: the password again, valid for SENDWATCH_REAUTH_SECONDS in this session."""
    assert request.user.is_authenticated  # @requires() lets only logged-in users in
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("messaging:credential_index")
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password"]
        user = authenticate(request, username=request.user.get_username(), password=password)
        if user is not None and user.pk == request.user.pk:
            mark_reauthenticated(request)
            audit.record(
                Actor.from_request(request), "auth.reauthenticate", request.user, valid_seconds=reauth_seconds()
            )
            return redirect(next_url)
        # Failures count towards the django-axes lockout like failed logins (its middleware answers then).
        audit.record(Actor.from_request(request), "auth.reauthenticate_failed", request.user)
        form.add_error("password", "That is not your password.")
    return render(
        request,
        "messaging/credentials/reauth.html",
        {"form": form, "next": next_url, "minutes": max(1, reauth_seconds() // 60)},
        status=400 if request.method == "POST" else 200,
    )
