"""The built-in vendor simulator, mounted at /sim/ for the demo (only when SENDWATCH_SIMULATOR is on).

The fake vendors speak each vendor's API without a login, as the real ones do with an API
key; the control API under /sim/_sim/ (set balances, force errors) is for staff only.

At its first request in a process, the simulator takes on the demo's vendor accounts where
the generated history left them (messaging.demo.vendor_state): balances, plan usage and
their steady drain.
"""

from __future__ import annotations

import io
import threading

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from messaging.demo import vendor_state
from messaging.vault.permissions import public
from providers.simulator import SimulatorState, make_app, shared_state

CONTROL_PREFIX = "_sim"
_carried_on = False
_carry_lock = threading.Lock()


def demo_state() -> SimulatorState:
    """This process's simulator state, with the demo's accounts carried on from the history at first use."""
    global _carried_on
    state = shared_state()
    with _carry_lock:
        if not _carried_on:
            vendor_state.carry_on(state)
            _carried_on = True
    return state


def forget_demo_state() -> None:
    """Forget this process's simulator accounts; the next request carries the demo on again.

    For tests, and for a history generated again inside this process (a running server
    takes a new one on at its restart, as bin/run does).
    """
    global _carried_on
    with _carry_lock:
        shared_state().reset()
        _carried_on = False


@public
@csrf_exempt
def mount(request: HttpRequest, rest: str) -> HttpResponse:
    """Hand the request to the vendor simulator's WSGI app, mounted at /sim/."""
    if not settings.SENDWATCH_SIMULATOR_ENABLED:
        raise Http404("The vendor simulator is not enabled (SENDWATCH_SIMULATOR).")
    if rest.startswith(CONTROL_PREFIX) and not request.user.is_staff:
        # The control API changes what the fake vendors answer: never for anonymous visitors.
        raise PermissionDenied("The simulator's control API is for staff only.")
    environ = dict(request.META)
    environ.update(
        {
            "SCRIPT_NAME": request.path[: len(request.path) - len(rest)].rstrip("/"),
            "PATH_INFO": "/" + rest,
            "wsgi.input": io.BytesIO(request.body),
            "CONTENT_LENGTH": str(len(request.body)),
        }
    )
    captured: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        captured["status"], captured["headers"] = status, headers

    chunks = make_app(demo_state())(environ, start_response)
    body = b"".join(chunks)
    response = HttpResponse(body, status=int(captured["status"].split()[0]))
    for name, value in captured["headers"]:
        response[name] = value
    return response
