"""HTTP transport for the adapters: the one place ``requests`` is called.

:func:`perform` sends one request and returns an :class:`~providers.types.HttpResponse`
with a capped body and the measured latency, or raises :class:`TransportError`
naming what went wrong on the wire and whether the request may have reached
the vendor. Deciding what that means for a send (retry or reconcile) is the
adapter's job, not the transport's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from providers.outbound import OutboundRefused, guarded_session
from providers.parsing import PARSE_LIMIT
from providers.types import Category, HttpResponse

DEFAULT_TIMEOUT = (3.05, 15.0)  # (connect, read) seconds


class TransportError(Exception):
    """No HTTP answer: a timeout, a refused or dropped connection, a TLS failure."""

    def __init__(self, code: str, category: Category, message: str, *, may_have_arrived: bool, latency_ms: int):
        super().__init__(message)
        self.code = code
        self.category = category
        self.message = message
        # The vendor may have received (and acted on) the request: a resend could duplicate it.
        self.may_have_arrived = may_have_arrived
        self.latency_ms = latency_ms


def new_session(allow_private_hosts: Iterable[str] = ()) -> requests.Session:
    """A session guarded by :mod:`providers.outbound`: only public addresses, checked at connect time.

    ``allow_private_hosts`` (host names or IPs, as written in the URL) may also reach
    private and loopback addresses; the app passes ``settings.SENDWATCH_ALLOW_PRIVATE_HOSTS``.
    Empty by default: a bare adapter only reaches the public internet.
    """
    return guarded_session(allow_private_hosts)


def perform(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json: Any = None,
    params: Mapping[str, str] | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> HttpResponse:
    """One HTTP call. Redirects are not followed, so the credential only goes to the configured base URL."""
    started = perf_counter()
    try:
        with session.request(
            method,
            url,
            json=json,
            params=params,
            headers=dict(headers),
            timeout=timeout,
            stream=True,
            allow_redirects=False,
        ) as raw_response:
            body = _read_capped(raw_response)
            status, response_headers = raw_response.status_code, CaseInsensitiveDict(raw_response.headers)
    except OutboundRefused as refused:
        # The guard refused the address before connecting: nothing was sent. Checked first,
        # as OutboundRefused is a ConnectionError. Same code as any failed connection.
        reason = str(refused).rstrip(".")
        what = "address" if refused.code == "address" else "URL"
        message = f"Could not connect: the {what} was refused ({reason})"
        raise _failure(started, "connection_failed", Category.NETWORK, message, False) from refused
    except requests.exceptions.ConnectTimeout as exc:
        raise _failure(started, "connect_timeout", Category.TIMEOUT, "Timed out connecting", False) from exc
    except (requests.exceptions.ReadTimeout, requests.exceptions.Timeout) as exc:
        raise _failure(started, "read_timeout", Category.TIMEOUT, "Timed out waiting for the answer", True) from exc
    except requests.exceptions.SSLError as exc:
        raise _failure(started, "tls_error", Category.NETWORK, "TLS handshake failed", False) from exc
    except requests.exceptions.ConnectionError as exc:
        # Refused / DNS failures never reached the vendor; a dropped connection mid-answer may have.
        if _is_dropped_connection(exc):
            raise _failure(
                started, "connection_dropped", Category.NETWORK, "Connection dropped before the answer", True
            ) from exc
        raise _failure(started, "connection_failed", Category.NETWORK, "Could not connect", False) from exc
    except requests.exceptions.RequestException as exc:
        raise _failure(started, "request_failed", Category.NETWORK, "The request failed", True) from exc
    return HttpResponse(status=status, body=body, headers=response_headers, latency_ms=_elapsed_ms(started))


def _failure(started: float, code: str, category: Category, message: str, may_have_arrived: bool) -> TransportError:
    return TransportError(code, category, message, may_have_arrived=may_have_arrived, latency_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((perf_counter() - started) * 1000)


def _read_capped(response: requests.Response) -> bytes:
    """Read at most PARSE_LIMIT bytes (plus one, so oversize is visible) of a body."""
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > PARSE_LIMIT:
            break
    return b"".join(chunks)


def _is_dropped_connection(exc: requests.exceptions.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        marker in text for marker in ("RemoteDisconnected", "ProtocolError", "Connection aborted", "IncompleteRead")
    )
