"""Demo-only controls that make a failover visible: run a vendor dry, refuse its key, restore it,
and send a few test messages through a route.

They act on the built-in simulator in this web process (the demo's fake vendors live here,
messaging.demo.simulator), so they exist only with SENDWATCH_SIMULATOR on, for admins, by POST.
Every action is audited like any admin action.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from messaging.demo.simulator import demo_state
from messaging.models import ApiToken, Provider, Route
from messaging.traffic import messages
from messaging.traffic.messages import MessageRequest, NoRoute
from messaging.vault import audit
from messaging.vault.actor import Actor
from messaging.vault.permissions import requires
from messaging.vault.tokens import MESSAGES_SEND, create_token

ACTIONS = {
    "drain": "ran its simulated balance or plan dry",
    "refuse_key": "made the simulator refuse its API key",
    "restore": "restored its simulated balance and key",
}
DEMO_TOKEN_NAME = "Demo test messages"
TEST_MESSAGES = 20


def simulator_on() -> bool:
    return bool(settings.SENDWATCH_SIMULATOR_ENABLED)


def _account(provider: Provider):
    return demo_state().account(provider.kind, provider.slug)


@requires("messaging.manage_routes")
@require_POST
def vendor_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    if not simulator_on() or action not in ACTIONS:
        raise Http404("not a simulator control")
    provider = get_object_or_404(Provider, slug=slug)
    state = demo_state()
    account = _account(provider)
    if action == "drain":
        if account.quota_based and account.config.quota_limit is not None:
            state.update_config(provider.kind, provider.slug, {"quota_used": account.config.quota_limit})
        else:
            state.update_config(provider.kind, provider.slug, {"balance": "0.00"})
    elif action == "refuse_key":
        state.update_config(provider.kind, provider.slug, {"valid_keys": ["a-key-nobody-has"]})
    else:
        with state.lock:
            account.topup(Decimal("500.00") if not account.quota_based else None)
        state.update_config(provider.kind, provider.slug, {"valid_keys": [], "expired_keys": []})
    audit.record(Actor.from_request(request), "simulator." + action, provider)
    flash.success(request, f"Simulator: {provider.name} {ACTIONS[action]}. The next poll or send sees it.")
    return HttpResponseRedirect(reverse("messaging:routes"))


@requires("messaging.manage_routes")
@require_POST
def send_test_messages(request: HttpRequest, slug: str) -> HttpResponse:
    if not simulator_on():
        raise Http404("not a simulator control")
    route = get_object_or_404(Route, slug=slug)
    token = ApiToken.objects.filter(name=DEMO_TOKEN_NAME, revoked_at__isnull=True).first()
    if token is None:
        token, _ = create_token(DEMO_TOKEN_NAME, providers="all", scopes=[MESSAGES_SEND])
    requests = [
        MessageRequest(to=f"+44740010{n:04d}", body=f"Sendwatch demo message {n + 1}", route=route)
        for n in range(TEST_MESSAGES)
    ]
    try:
        messages.submit(token, requests)
    except NoRoute as exc:
        flash.error(request, f"Nothing sent: {exc}")
    else:
        flash.success(request, f"{TEST_MESSAGES} test messages queued through {route.slug}; see Sends.")
    return HttpResponseRedirect(reverse("messaging:routes"))
