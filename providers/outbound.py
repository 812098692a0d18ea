"""The one guard for every outbound HTTP request Sendwatch makes.

Sendwatch calls URLs that operators type in: vendor base URLs, key-verification
endpoints, webhook targets. Without a guard those become server-side request
forgery (SSRF): a URL pointing at 127.0.0.1, a private network, or the cloud
metadata service turns the app into a proxy into its own infrastructure. This
module owns that decision, in one place:

* ``check_url(url, allow=())`` validates a URL at save time (form validation)
  and raises :class:`OutboundRefused` with a human sentence.
* ``guarded_session(allow=())`` returns a ``requests.Session`` that re-checks at
  connect time. Checking only at save time is not enough: DNS answers change
  (DNS rebinding), so the session resolves the host once, checks every address,
  and connects a socket to exactly those checked addresses. ``Host``, TLS SNI and
  certificate verification all stay on the original host name, because only the
  socket creation is replaced (urllib3 ``HTTPConnection._new_conn``), never the
  connection's host.

Policy
------
* Only ``http`` and ``https``; no userinfo (``user@host``), no whitespace,
  control characters or backslashes (parsers disagree about those), and no
  proxies (a proxy would do its own resolution, out of our sight).
* A host is refused if ANY address it resolves to is not a public unicast
  address: loopback, private (RFC 1918, fc00::/7), link-local, carrier-grade NAT
  (100.64.0.0/10), reserved, documentation/benchmarking and other
  special-purpose ranges, deprecated site-local (fec0::/10) and IPv4-compatible
  (::a.b.c.d) forms, 6to4 and Teredo addresses. IPv4-mapped (::ffff:a.b.c.d) and
  NAT64 (64:ff9b::a.b.c.d) addresses are judged by the IPv4 address they embed.
  Numeric IPv4 spellings (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``127.1``) are normalised the way the OS resolver does (inet_aton).
* ``allow`` is a list of host names and IP addresses (the app passes the Django
  setting ``SENDWATCH_ALLOW_PRIVATE_HOSTS``). An entry matches the URL's host as
  written: a host name exactly (case-insensitive, trailing dot ignored) or an IP
  literal for the same address. A matching host may reach private, loopback,
  link-local, CGNAT and other non-public addresses. It never lifts the refusal of
  cloud metadata addresses, the unspecified address (0.0.0.0, ::), multicast or
  broadcast.
* Redirects are followed (requests' default), and every hop goes through the same
  adapter, so every hop is checked at connect time: a redirect to 127.0.0.1, to
  a private name or to a non-http(s) scheme raises :class:`OutboundRefused`.
  Callers that never want redirects still pass ``allow_redirects=False``.

Plain Python: no Django imports (``providers/`` is plain Python).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.poolmanager import PoolManager
from urllib3.util import parse_url
from urllib3.util.connection import allowed_gai_family

__all__ = [
    "GuardedAdapter",
    "OutboundRefused",
    "check_url",
    "guarded_session",
    "refusal_reason",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Never reachable, allow-list or not: these hand out cloud credentials.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)

_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ULA = ipaddress.IPv6Network("fc00::/7")
_PRIVATE_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (*_RFC1918, _ULA)
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: last 32 bits are the IPv4 address

# Characters that URL parsers (urllib.parse, urllib3, browsers) treat differently,
# the classic way to make the checked host differ from the connected one.
_AMBIGUOUS_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
# Hosts the resolver may read as a numeric IPv4 address (inet_aton forms).
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


class OutboundRefused(requests.exceptions.ConnectionError):
    """An outbound request was refused by the guard; ``str(exc)`` is a sentence for people.

    A ``requests.ConnectionError``, so callers that treat connection errors as
    "unreachable" keep working; catch this class first to tell the two apart.
    ``code`` is a short machine tag: ``scheme``, ``userinfo``, ``invalid_url``,
    ``proxy``, ``unresolvable`` or ``address``.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str = "address",
        host: str | None = None,
        address: str | None = None,
        request: Any = None,
        response: Any = None,
    ) -> None:
        super().__init__(reason, request=request, response=response)
        self.reason = reason
        self.code = code
        self.host = host
        self.address = address

    def __str__(self) -> str:
        return self.reason


class _RefusedAtConnect(Exception):
    """Carries a refusal out of urllib3 unchanged.

    Deliberately NOT an OSError/HTTPException/urllib3 error: urllib3 would wrap
    those in ProtocolError, count them as retries and requests would re-raise a
    plain ConnectionError. GuardedAdapter.send turns it into OutboundRefused.
    """

    def __init__(self, refused: OutboundRefused) -> None:
        super().__init__(str(refused))
        self.refused = refused


# ---------------------------------------------------------------------------
# The address policy
# ---------------------------------------------------------------------------


def refusal_reason(address: str | IPAddress, *, allow_private: bool = False) -> str | None:
    """Why ``address`` may not be connected to (a noun phrase), or None if it may.

    ``allow_private`` is True when the host is on the allow-list: then only
    metadata, unspecified, multicast and broadcast addresses are refused.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(ip.packed)  # drop the %zone; it does not change the class
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"

    if isinstance(ip, ipaddress.IPv6Address):
        # Forms that a dual-stack socket or a NAT64 gateway turns into the embedded
        # IPv4 address: judge that address.
        mapped = ip.ipv4_mapped
        if mapped is not None:
            inner = refusal_reason(mapped, allow_private=allow_private)
            return inner and f"an IPv4-mapped form of {mapped}, {inner}"
        if ip in _NAT64_WELL_KNOWN:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            inner = refusal_reason(embedded, allow_private=allow_private)
            return inner and f"a NAT64 form of {embedded}, {inner}"
        if ip in _IPV4_COMPATIBLE and int(ip) > 1:
            return f"a deprecated IPv4-compatible form of {ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)}"
        # 6to4 and Teredo: name the embedded address when it is itself refused;
        # otherwise they are refused below as not globally reachable.
        embedded_forms: list[tuple[str, ipaddress.IPv4Address]] = []
        if ip.sixtofour is not None:
            embedded_forms.append(("6to4", ip.sixtofour))
        if ip.teredo is not None:
            embedded_forms += [("Teredo", ip.teredo[0]), ("Teredo", ip.teredo[1])]
        for form, embedded in embedded_forms:
            inner = refusal_reason(embedded, allow_private=allow_private)
            if inner:
                return f"a {form} form of {embedded}, {inner}"

    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip == _BROADCAST:
        return "the broadcast address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT (shared) address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a deprecated site-local address"
    if any(ip in net for net in _PRIVATE_NETWORKS if ip.version == net.version):
        return "a private network address"
    if any(ip in net for net in _DOCUMENTATION if ip.version == net.version):
        return "a documentation address"
    if ip.is_reserved:
        return "a reserved address"
    # is_global is the IANA special-purpose registry: catches what is left
    # (benchmarking, 6to4, Teredo, ORCHID, 192.0.0.0/24...).
    if ip.is_private or not ip.is_global:
        return "a special-purpose address that is not publicly routable"
    return None


# ---------------------------------------------------------------------------
# Allow-list, URL parsing, resolution
# ---------------------------------------------------------------------------


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class _AllowList:
    names: frozenset[str] = frozenset()
    addresses: frozenset[IPAddress] = frozenset()

    @classmethod
    def of(cls, entries: _AllowList | str | Iterable[str] | None) -> _AllowList:
        if isinstance(entries, _AllowList):
            return entries
        if entries is None:
            return cls()
        if isinstance(entries, str):  # a setting written as "host" instead of ["host"]
            entries = [entries]
        names, addresses = set(), set()
        for entry in entries:
            key = _host_key(str(entry))
            if not key:
                continue
            ip = _ip_literal(key)
            if ip is not None:
                addresses.add(ip)
            else:
                names.add(key)
        return cls(frozenset(names), frozenset(addresses))

    def permits(self, host: str) -> bool:
        """Whether the URL's host, as written, is on the list."""
        ip = _ip_literal(_host_key(host))
        if ip is not None:
            if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
                ip = ipaddress.IPv6Address(ip.packed)
            return ip in self.addresses
        return _host_key(host) in self.names


_NOTHING_ALLOWED = _AllowList()


def _parse(url: object) -> tuple[str, str, int]:
    """(scheme, host, port) exactly as requests/urllib3 will read them, or OutboundRefused."""
    if not isinstance(url, str) or not url:
        raise OutboundRefused("The URL is empty.", code="invalid_url")
    if _AMBIGUOUS_CHARACTERS.search(url):
        raise OutboundRefused(
            "The URL contains whitespace, control characters or a backslash; remove them.", code="invalid_url"
        )
    scheme = urlsplit(url).scheme.lower()
    if not scheme or "://" not in url:
        raise OutboundRefused("The URL must start with http:// or https://.", code="scheme")
    if scheme not in ALLOWED_SCHEMES:
        raise OutboundRefused(f"Only http:// and https:// URLs are allowed, not {scheme}://.", code="scheme")
    try:
        # urllib3's parser is the one requests uses to pick the host it connects to.
        parsed = parse_url(url)
    except LocationParseError as exc:
        raise OutboundRefused(f"The URL is not valid: {exc}.", code="invalid_url") from None
    if parsed.auth is not None or "@" in urlsplit(url).netloc:
        raise OutboundRefused(
            "The URL must not contain a user name or password before the host (user@host).", code="userinfo"
        )
    if not parsed.host:
        raise OutboundRefused("The URL has no host.", code="invalid_url")
    port = parsed.port or (443 if scheme == "https" else 80)
    return scheme, parsed.host.strip("[]"), port


def _resolve_and_check(
    host: str, port: int, allow: _AllowList, family: int = socket.AF_UNSPEC
) -> list[tuple[Any, ...]]:
    """Resolve ``host`` once and check every answer; return the answers to connect to.

    socket.gaierror propagates (the caller decides what "unresolvable" means).
    """
    allowed = allow.permits(host)
    shown = host.rstrip(".")

    def refuse(address: IPAddress, reason: str) -> OutboundRefused:
        sentence = f"{shown} is {reason}" if str(address) == shown else f"{shown} resolves to {address}, {reason}"
        if refusal_reason(address, allow_private=True) is not None:  # the allow-list would not help
            advice = "; Sendwatch never connects there."
        else:
            advice = "; outbound requests only go to public internet addresses unless the host is allow-listed."
        return OutboundRefused(sentence + advice, code="address", host=shown, address=str(address))

    # Numeric IPv4 spellings (2130706433, 0x7f000001, 0177.0.0.1, 127.1): check the
    # inet_aton reading ourselves too, whatever the resolver makes of them.
    if _NUMERIC_HOST.fullmatch(host):
        try:
            numeric = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            numeric = None
        if numeric is not None and (reason := refusal_reason(numeric, allow_private=allowed)):
            raise refuse(numeric, reason)

    answers = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    if not answers:
        raise socket.gaierror(socket.EAI_NONAME, "getaddrinfo returned no addresses")
    for answer in answers:
        address = ipaddress.ip_address(answer[4][0])
        if (reason := refusal_reason(address, allow_private=allowed)) is not None:
            raise refuse(address, reason)
    return answers


def check_url(url: str, allow: Iterable[str] = ()) -> None:
    """Raise OutboundRefused unless ``url`` may be requested now; for form validation.

    Resolves the host (a DNS lookup). A host that does not resolve is refused with
    ``code == "unresolvable"``, so a caller may choose to accept it at save time:
    the connect-time check still applies to whatever it resolves to later.
    """
    _, host, port = _parse(url)
    try:
        _resolve_and_check(host, port, _AllowList.of(allow))
    except socket.gaierror as exc:
        raise OutboundRefused(
            f"The host {host} could not be resolved ({exc.strerror or exc}).", code="unresolvable", host=host
        ) from None
    except UnicodeError:
        raise OutboundRefused(f"The host {host} is not a valid host name.", code="invalid_url") from None


# ---------------------------------------------------------------------------
# Connect-time checking: urllib3 connection, pools, pool manager, requests adapter
# ---------------------------------------------------------------------------


class _GuardedConnectionMixin:
    """Replaces urllib3's socket creation: resolve once, check all, connect to the checked.

    urllib3's HTTPConnection._new_conn calls create_connection(host), which runs
    its own getaddrinfo. Here the answers that passed the check are the ones the
    socket connects to. ``self.host`` is untouched, so the Host header, TLS SNI
    and certificate hostname verification (HTTPSConnection.connect) still use
    the URL's host name.
    """

    outbound_allow: _AllowList = _NOTHING_ALLOWED

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        if getattr(conn, "proxy", None) is not None:
            # Defensive: GuardedAdapter refuses proxies before getting here.
            raise _RefusedAtConnect(OutboundRefused("Proxies are not supported for outbound requests.", code="proxy"))
        dns_host = conn._dns_host.strip("[]")  # keeps a trailing dot, as urllib3 does for DNS
        try:
            dns_host.encode("idna")
        except UnicodeError:
            raise LocationParseError(f"'{dns_host}', label empty or too long") from None
        try:
            answers = _resolve_and_check(dns_host, conn.port, self.outbound_allow, allowed_gai_family())
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except OutboundRefused as refused:
            raise _RefusedAtConnect(refused) from None
        try:
            sock = _connect_first(answers, conn.timeout, conn.source_address, conn.socket_options)
        except TimeoutError as exc:  # socket.timeout
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock


def _connect_first(
    answers: list[tuple[Any, ...]],
    timeout: Any,
    source_address: tuple[str, int] | None,
    socket_options: Iterable[tuple[int, int, int | bytes]] | None,
) -> socket.socket:
    """urllib3.util.connection.create_connection, minus its own getaddrinfo."""
    error: OSError | None = None
    for family, socktype, proto, _canonname, sockaddr in answers:
        sock = None
        try:
            sock = socket.socket(family, socktype, proto)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is None or isinstance(timeout, int | float):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error if error is not None else OSError("getaddrinfo returned no addresses")


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedPoolMixin:
    outbound_allow: _AllowList = _NOTHING_ALLOWED

    def _new_conn(self) -> Any:
        conn = super()._new_conn()  # type: ignore[misc]  # a mixin: the pool class after it in the MRO has _new_conn
        conn.outbound_allow = self.outbound_allow
        return conn


class _GuardedHTTPConnectionPool(_GuardedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(_GuardedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    """A PoolManager whose pools make guarded connections carrying the allow-list."""

    def __init__(self, outbound_allow: _AllowList, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outbound_allow = outbound_allow
        # Per instance, so the module-level urllib3 mapping is left alone.
        self.pool_classes_by_scheme = {"http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        # pool_classes_by_scheme (set in __init__) only holds guarded pool classes.
        cast(_GuardedPoolMixin, pool).outbound_allow = self.outbound_allow
        return pool


class GuardedAdapter(HTTPAdapter):
    """requests adapter that checks the URL, refuses proxies, and checks addresses at connect time."""

    __attrs__ = [*HTTPAdapter.__attrs__, "outbound_allow"]

    def __init__(self, allow: Iterable[str] = (), **kwargs: Any) -> None:
        # Set before super().__init__, which builds the pool manager.
        self.outbound_allow = _AllowList.of(allow)
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            self.outbound_allow, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # A proxy resolves and connects on our behalf, out of the guard's sight.
        raise OutboundRefused("Proxies are not supported for outbound requests.", code="proxy")

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        try:
            _parse(request.url)
            if select_proxy(request.url or "", proxies):
                raise OutboundRefused("Proxies are not supported for outbound requests.", code="proxy")
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        except OutboundRefused as refused:
            refused.request = request
            raise
        except _RefusedAtConnect as wrapped:
            at_connect = wrapped.refused
            at_connect.request = request
            raise at_connect from None


class _RefusingAdapter(BaseAdapter):
    """Mounted for every other scheme, so a redirect to ftp:// or file:// is OutboundRefused."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            _parse(request.url)
        except OutboundRefused as refused:
            refused.request = request
            raise
        raise OutboundRefused("Only http:// and https:// URLs are allowed.", code="scheme", request=request)

    def close(self) -> None:
        pass


def guarded_session(allow: Iterable[str] = ()) -> requests.Session:
    """A requests.Session whose every request and redirect hop is checked at connect time.

    ``allow`` is read once: build a new session when the allow-list changes.
    Redirects are followed as usual (pass ``allow_redirects=False`` to stop
    them); each hop is re-checked. Environment proxies, .netrc and
    REQUESTS_CA_BUNDLE are ignored (``trust_env = False``) and explicit proxies
    are refused.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(allow=allow)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.mount("", _RefusingAdapter())  # shortest prefix: matched last
    return session


# ---------------------------------------------------------------------------
# Origins: where a stored API key may be sent
# ---------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: scheme and host lower-cased, the default port written out.

    A vendor API key is bound to the origin it was verified against and is never
    sent to another one. The rule is the one frozen in
    ``messaging/migrations/0005_security_scopes_and_origins.py``, so origins stored
    by the migration compare equal to the ones computed here:
    ``origin("https://API.Telnxo.com/v1") == "https://api.telnxo.com:443"``.
    A port that is not a number gives port 0 (such a URL cannot be requested).
    """
    parts = urlsplit(url or "")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = 0
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"
