"""The exact body a simulated vendor answers with for one catalogue code (demo data and tests reuse it).

Apart from the vendors package because it needs the state, and the state looks vendors up there.
"""

from __future__ import annotations

from providers.simulator.state import SimulatorState
from providers.simulator.vendors import VENDORS, Ctx


def render_error_body(kind: str, code: str) -> str:
    """The body the simulated vendor answers with for one catalogue code (demo data reuses it).

    Per-recipient statuses (23 Telecom ``blocked_country``) have no error body of their own: "".
    """
    vendor = VENDORS[kind]
    if code in vendor.per_recipient_codes:
        return ""
    state = SimulatorState(clock=lambda: 1_767_258_000.0)  # a fixed time: stable, repeatable bodies
    with state.lock:
        account = state.account(kind, "render")
        ctx = Ctx(
            state=state,
            account=account,
            method="POST",
            path="",
            params={},
            headers={},
            body=b"",
            now=state.clock(),
            request_id=f"req_{account.hex(16)}",
        )
        response = vendor.forced(ctx, code, None)
    return response.body.decode("utf-8", errors="replace")
