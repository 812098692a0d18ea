"""The simulator's WSGI application, its control API and a threaded stdlib server.

Routing uses ``PATH_INFO`` only, so the app works at the root of its own server
and mounted under a prefix (``SCRIPT_NAME``) by another WSGI host alike.

Control API (JSON in, JSON out; errors are ``{"error": "..."}`` with 400/404/405):

- ``GET /_sim/`` index (kinds, vendor base URLs, endpoints, config keys, pseudo-codes)
- ``GET /_sim/accounts`` every account without its messages; ``GET /_sim/snapshot`` everything
- ``POST /_sim/reset`` forget all accounts (and wake any request sleeping in a ``timeout``)
- ``GET /_sim/{kind}/{account}`` config + counters; ``PUT`` replaces the config (kind defaults
  for omitted keys; the GET shape is accepted back), ``PATCH`` changes only the given keys,
  ``DELETE`` forgets the account
- ``POST /_sim/{kind}/{account}/topup`` ``{"amount": 50}`` adds money; quota kinds reset ``quota_used``
- ``POST /_sim/{kind}/{account}/fail_next`` ``{"code", "count": 1, "status"?, "scope"?: any|send|balance}``
  forces the next N vendor requests; ``DELETE`` clears the queue
- ``GET /_sim/{kind}/{account}/messages`` accepted messages (vendor id, idempotency key, ...);
  ``DELETE`` clears them and the idempotency keys

Config keys: see :class:`providers.simulator.state.AccountConfig`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any
from wsgiref import simple_server

from providers.simulator.state import (
    KINDS,
    PSEUDO_CODES,
    AccountConfig,
    ConfigError,
    Forced,
    SimulatorState,
    _decimal,
)
from providers.simulator.vendors import VENDORS, Ctx, Response, Vendor, dumps, reason

# Where our own request handler exposes the client socket (gunicorn exposes "gunicorn.socket").
SOCKET_ENVIRON_KEY = "sendwatch.simulator.socket"
MAX_BODY = 4 * 1024 * 1024
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9._~@+-]{1,100}$")

StartResponse = Callable[..., Any]


class SimulatedDisconnect(ConnectionAbortedError):
    """Raised after the simulator closed the client connection on purpose (wsgiref ignores it)."""


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(min(length, MAX_BODY))


class SimulatorApp:
    """WSGI callable. ``app.state`` is the :class:`SimulatorState` it serves."""

    def __init__(self, state: SimulatorState | None = None) -> None:
        self.state = state or SimulatorState()

    # ---- WSGI entry ----

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = (environ.get("REQUEST_METHOD") or "GET").upper()
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["_sim"]:
            response = self._control(environ, method, segments[1:])
        elif len(segments) >= 2 and segments[0] in VENDORS:
            if not ACCOUNT_NAME.match(segments[1]):
                response = _json(404, {"error": f"bad account name {segments[1]!r}"})
            else:
                response = self._vendor(environ, method, segments[0], segments[1], "/" + "/".join(segments[2:]))
        elif not segments:
            response = _json(200, self._index(environ))
        else:
            response = _json(404, {"error": f"unknown path {path}; vendor kinds: {', '.join(KINDS)}"})
        return self._finish(environ, start_response, response)

    def _finish(self, environ: dict[str, Any], start_response: StartResponse, response: Response) -> Iterable[bytes]:
        if response.delay and not self.state.sleep(response.delay):
            response.disconnect = True  # interrupted by reset / shutdown: never answer
        if response.disconnect:
            _disconnect(environ)
        headers = [h for h in response.headers if h[0].lower() != "content-length"]
        headers.append(("Content-Length", str(len(response.body))))
        start_response(reason(response.status), headers)
        return [response.body]

    # ---- vendor requests ----

    def _vendor(self, environ: dict[str, Any], method: str, kind: str, name: str, path: str) -> Response:
        vendor = VENDORS[kind]
        state = self.state
        matched = vendor.match(method, path)
        body = _read_body(environ)
        with state.lock:
            account = state.account(kind, name)
            now = state.clock()
            ctx = Ctx(
                state=state,
                account=account,
                method=method,
                path=path,
                params=matched[1] if matched else {},
                headers=_headers(environ),
                body=body,
                now=now,
                window_count=account.note_request(now),
                request_id=f"req_{account.hex(16)}",
            )
            forced = account.pop_forced(matched[0].scope) if matched else None
            latency = account.config.latency_ms / 1000.0
        if latency and not state.sleep(latency):
            return Response(0, disconnect=True)
        with state.lock:
            response = vendor.not_found(ctx) if matched is None else self._dispatch(vendor, matched[0], ctx, forced)
            if response.vendor:
                vendor.decorate(ctx, response)
            account.count(response.outcome or str(response.status))
        return response

    def _dispatch(self, vendor: Vendor, route: Any, ctx: Ctx, forced: Forced | None) -> Response:
        """Fault injection in order (fail_next, outage, token bucket, auth, error_mix), then the handler."""
        after: list[str] = []
        response = self._respond(vendor, route, ctx, forced, after)
        if "timeout" in after:  # processed; the answer comes too late
            response.delay = ctx.account.config.timeout_seconds
            response.outcome = "timeout"
        elif "accept_then_disconnect" in after:
            response.disconnect = True
            response.outcome = "accept_then_disconnect"
        return response

    def _respond(self, vendor: Vendor, route: Any, ctx: Ctx, forced: Forced | None, after: list[str]) -> Response:
        account, config = ctx.account, ctx.account.config
        if forced is not None:
            response = self._apply_code(vendor, route, ctx, forced.code, forced.status, after)
            if response is not None:
                return response
        if config.outage:
            return vendor.outage(ctx)
        wait = account.take_token(ctx.now)
        if wait is not None:
            return vendor.rate_limited(ctx, wait)
        problem = vendor.check_auth(ctx)
        if problem is not None:
            return problem
        if forced is None and route.scope == "send":
            code = account.draw_mix()
            if code is not None:
                response = self._apply_code(vendor, route, ctx, code, None, after)
                if response is not None:
                    return response
        return vendor.handle(route, ctx)

    def _apply_code(
        self, vendor: Vendor, route: Any, ctx: Ctx, code: str, status: int | None, after: list[str]
    ) -> Response | None:
        """A forced / drawn code: the response to send now, or None to go on (noting any after-effect)."""
        if code in ("timeout", "accept_then_disconnect"):
            after.append(code)
            return None
        if code == "disconnect":
            return Response(0, disconnect=True, vendor=False, outcome="disconnect")
        if code == "garbage":
            return _garbage(ctx, status or 200)
        if code == "empty":
            return Response(status or 200, b"", [], vendor=False, outcome="empty")
        if code in vendor.per_recipient_codes:
            if route.scope == "send":
                ctx.recipient_status = code
            return None
        return vendor.forced(ctx, code, status)

    # ---- control API ----

    def _index(self, environ: dict[str, Any]) -> dict[str, Any]:
        root = environ.get("SCRIPT_NAME", "").rstrip("/")
        return {
            "simulator": "Sendwatch vendor simulator",
            "kinds": list(KINDS),
            "vendor_base_urls": {kind: f"{root}/{kind}/{{account}}{VENDORS[kind].prefix}" for kind in KINDS},
            "control": f"{root}/_sim/",
        }

    def _control(self, environ: dict[str, Any], method: str, parts: list[str]) -> Response:
        try:
            return _json(200, self._control_route(environ, method, parts))
        except ControlError as exc:
            return _json(exc.status, {"error": exc.message})
        except ConfigError as exc:
            return _json(400, {"error": str(exc)})

    def _control_route(self, environ: dict[str, Any], method: str, parts: list[str]) -> Any:
        state = self.state
        if not parts:
            _allow(method, "GET")
            return {
                **self._index(environ),
                "endpoints": [
                    "GET /_sim/accounts",
                    "GET /_sim/snapshot",
                    "POST /_sim/reset",
                    "GET|PUT|PATCH|DELETE /_sim/{kind}/{account}",
                    "POST /_sim/{kind}/{account}/topup {amount}",
                    "POST|DELETE /_sim/{kind}/{account}/fail_next {code, count, status?, scope?}",
                    "GET|DELETE /_sim/{kind}/{account}/messages",
                ],
                "config_keys": _config_keys(),
                "pseudo_codes": sorted(PSEUDO_CODES),
            }
        if parts == ["accounts"]:
            _allow(method, "GET")
            with state.lock:
                return {"accounts": [a.as_json() for a in state.settled()]}
        if parts == ["snapshot"]:
            _allow(method, "GET")
            return state.snapshot()
        if parts == ["reset"]:
            _allow(method, "POST")
            state.reset()
            return {"reset": True}
        if len(parts) < 2 or parts[0] not in VENDORS or not ACCOUNT_NAME.match(parts[1]):
            raise ControlError(404, f"unknown control path /_sim/{'/'.join(parts)}")
        kind, name, rest = parts[0], parts[1], parts[2:]
        if not rest:
            if method == "GET":
                with state.lock:
                    return state.account(kind, name).as_json()
            if method in ("PUT", "PATCH"):
                data = _json_body(environ)
                if isinstance(data, dict) and isinstance(data.get("config"), dict):
                    data = data["config"]  # accept the GET shape back
                if not isinstance(data, dict):
                    raise ControlError(400, "config must be a JSON object")
                mix = data.get("error_mix")
                if isinstance(mix, dict):
                    unknown = [str(c) for c in mix if c not in PSEUDO_CODES and not VENDORS[kind].knows(str(c))]
                    if unknown:
                        raise ControlError(400, f"error_mix: not {VENDORS[kind].label} codes: {', '.join(unknown)}")
                with state.lock:
                    if method == "PUT":
                        account = state.replace_config(kind, name, data)
                    else:
                        account = state.update_config(kind, name, data)
                    return account.as_json()
            if method == "DELETE":
                with state.lock:
                    existed = state.accounts.pop((kind, name), None) is not None
                return {"deleted": existed}
            raise ControlError(405, f"method {method} not allowed")
        action = rest[0]
        if len(rest) != 1:
            raise ControlError(404, f"unknown control path /_sim/{'/'.join(parts)}")
        if action == "topup":
            _allow(method, "POST")
            data = _json_body(environ) or {}
            if not isinstance(data, dict):
                raise ControlError(400, "body must be a JSON object")
            amount = _decimal("amount", data["amount"]) if data.get("amount") is not None else None
            with state.lock:
                account = state.account(kind, name)
                if amount is not None and not account.quota_based and amount <= Decimal(0):
                    raise ControlError(400, "amount must be positive")
                account.topup(amount)
                return account.as_json()
        if action == "fail_next":
            if method == "DELETE":
                with state.lock:
                    state.account(kind, name).fail_next.clear()
                    return state.account(kind, name).as_json()
            _allow(method, "POST")
            return self._fail_next(environ, kind, name)
        if action == "messages":
            with state.lock:
                account = state.account(kind, name)
                if method == "DELETE":
                    account.messages.clear()
                    account.idempotency.clear()
                    return {"messages": [], "count": 0}
                _allow(method, "GET")
                return {"messages": [dict(m) for m in account.messages], "count": len(account.messages)}
        raise ControlError(404, f"unknown control action {action!r}")

    def _fail_next(self, environ: dict[str, Any], kind: str, name: str) -> Any:
        data = _json_body(environ)
        if not isinstance(data, dict) or not isinstance(data.get("code"), str) or not data["code"]:
            raise ControlError(400, 'body must be {"code": "...", "count": 1}')
        vendor = VENDORS[kind]
        code = data["code"]
        count = data.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
            raise ControlError(400, "count must be an integer between 1 and 100000")
        status = data.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
            raise ControlError(400, "status must be an HTTP status code")
        if code not in PSEUDO_CODES and not vendor.knows(code) and status is None:
            raise ControlError(
                400,
                f"{code!r} is not a {vendor.label} catalogue code nor one of {sorted(PSEUDO_CODES)}; "
                "pass an explicit status to send it anyway",
            )
        default_scope = "send" if code in vendor.per_recipient_codes else "any"
        scope = data.get("scope", default_scope)
        if scope not in ("any", "send", "balance"):
            raise ControlError(400, "scope must be 'any', 'send' or 'balance'")
        with self.state.lock:
            account = self.state.account(kind, name)
            for _ in range(count):
                account.fail_next.append(Forced(code=code, status=status, scope=scope))
            return account.as_json()


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ControlError(405, f"method {method} not allowed; use {' or '.join(allowed)}")


def _json_body(environ: dict[str, Any]) -> Any:
    raw = _read_body(environ)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ControlError(400, "body is not valid JSON") from None


def _json(status: int, data: Any) -> Response:
    return Response(status, dumps(data), [("Content-Type", "application/json; charset=utf-8")], vendor=False)


def _config_keys() -> list[str]:
    return AccountConfig.field_names()


def _garbage(ctx: Ctx, status: int) -> Response:
    """An HTML page (a CDN challenge) followed by random non-UTF-8 bytes."""
    rng = ctx.account.fault_rng
    noise = bytes(rng.getrandbits(8) for _ in range(96)) + b"\xff\xfe\x00"
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Just a moment...</title></head>'
        "<body><h1>Checking your browser before accessing the API</h1>"
        f"<p>Ray ID: {rng.getrandbits(64):016x}</p></body></html>\n"
    ).encode()
    return Response(
        status, page + noise, [("Content-Type", "text/html; charset=utf-8")], vendor=False, outcome="garbage"
    )


def _disconnect(environ: dict[str, Any]) -> None:
    """Close the client connection without an answer, then abort the WSGI response."""
    sock = environ.get(SOCKET_ENVIRON_KEY) or environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise SimulatedDisconnect("simulated disconnect: connection closed without an answer")


def make_app(state: SimulatorState | None = None) -> SimulatorApp:
    """The simulator as a WSGI callable (mountable: it routes on PATH_INFO only)."""
    return SimulatorApp(state)


# ---- a threaded stdlib server ----------------------------------------------------


class _Handler(simple_server.WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[SOCKET_ENVIRON_KEY] = self.connection
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


class SimulatorServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    """``wsgiref`` + one thread per request. ``shutdown()`` also closes the socket and wakes sleepers."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    quiet = False
    state: SimulatorState | None = None

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def shutdown(self) -> None:
        super().shutdown()
        if self.state is not None:
            self.state.interrupt_sleepers()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(
    host: str = "127.0.0.1", port: int = 8025, state: SimulatorState | None = None, *, quiet: bool = False
) -> SimulatorServer:
    app = make_app(state)
    server = simple_server.make_server(host, port, app, server_class=SimulatorServer, handler_class=_Handler)
    server.state = app.state
    server.quiet = quiet
    return server


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, state: SimulatorState | None = None, *, quiet: bool = True
) -> tuple[SimulatorServer, str]:
    """Serve in a daemon thread; returns ``(server, base_url)``. ``server.shutdown()`` stops it."""
    server = make_server(host, port, state, quiet=quiet)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sendwatch-simulator", daemon=True
    )
    thread.start()
    return server, f"http://{host}:{server.server_port}"
