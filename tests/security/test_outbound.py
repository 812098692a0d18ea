"""The outbound-request guard (providers.outbound): refused at check time AND at connect time.

No network beyond loopback: every test runs with a fake resolver (names the test
did not set up do not resolve, numeric hosts are parsed locally) and a socket
guard that records every connect and lets only loopback ones through. A "public"
DNS answer is never connected to: the guard turns it into ECONNREFUSED and the
test fails unless it expected exactly that attempt.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.outbound import GuardedAdapter, OutboundRefused, check_url, guarded_session, refusal_reason

PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TIMEOUT = (5, 5)
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:4700::1111"


# ---------------------------------------------------------------------------
# Fake resolver and connect guard
# ---------------------------------------------------------------------------


@dataclass
class Net:
    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple] = field(default_factory=list)
    blocked: list[tuple] = field(default_factory=list)
    expect_blocked: bool = False

    def answer(self, name: str, *rounds: list[str]) -> None:
        """``name`` answers the first round at the first lookup, the next at the next; the last repeats."""
        self.answers[name.lower()] = [list(r) for r in rounds]

    def loopback_connects(self) -> list[tuple]:
        return [c for c in self.connects if c not in self.blocked]


@pytest.fixture(autouse=True)
def net(monkeypatch):
    state = Net()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def fake_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        state.lookups.append(name)
        rounds = state.answers.get(name.lower().rstrip("."))
        if rounds is None:
            if name == "localhost":  # /etc/hosts, no DNS query
                return real_getaddrinfo(host, port, family, type, proto, flags)
            try:  # IP literals and inet_aton spellings: parsed locally, never a DNS query
                return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
            except socket.gaierror:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test resolver)") from None
        current = rounds.pop(0) if len(rounds) > 1 else rounds[0]
        results = []
        for text in current:
            ip = ipaddress.ip_address(text)
            af = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            if family not in (socket.AF_UNSPEC, af):
                continue
            sockaddr = (text, int(port or 0)) if ip.version == 4 else (text, int(port or 0), 0, 0)
            results.append((af, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, "no address of that family (test resolver)")
        return results

    def guarded_connect(sock, address):
        state.connects.append(address)
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0].split("%")[0]).is_loopback:
            state.blocked.append(address)
            raise ConnectionRefusedError(111, "blocked by the test: not a loopback address")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield state
    assert state.expect_blocked or not state.blocked, f"tried to connect to non-loopback {state.blocked}"


# ---------------------------------------------------------------------------
# Local listeners (HTTP and HTTPS) on loopback
# ---------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at teardown

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Host")))
        url = urlsplit(self.path)
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(url.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    tls_context: ssl.SSLContext | None = None

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn(): a reverse DNS lookup
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def get_request(self):
        sock, address = self.socket.accept()
        if self.tls_context is not None:
            sock.settimeout(5)
            # A failed handshake raises SSLError (an OSError) here; socketserver drops the connection.
            sock = self.tls_context.wrap_socket(sock, server_side=True)
        return sock, address

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Server6(_Server):
    address_family = socket.AF_INET6


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def start_listener():
    running = []

    def start(*, ipv6: bool = False, tls: ssl.SSLContext | None = None) -> _Server:
        server = (_Server6 if ipv6 else _Server)(("::1" if ipv6 else "127.0.0.1", 0), _Handler)
        server.seen, server.sni = [], []
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: server.sni.append(name)
            server.tls_context = tls
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


@pytest.fixture
def listener(start_listener):
    return start_listener()


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory):
    """A throwaway CA and a certificate for vendor.test only (no IP SAN)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    usage = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sendwatch outbound test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vendor.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("vendor.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("outbound-tls")
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder


@pytest.fixture
def tls_listener(start_listener, tls_material):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_material / "leaf.pem", tls_material / "leaf.key")
    return start_listener(tls=context)


# ---------------------------------------------------------------------------
# Address classes
# ---------------------------------------------------------------------------


def _teredo(server: str, client: str) -> str:
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0x8000 << 48) | (0xFFFF << 32)
    return str(ipaddress.IPv6Address(value | (~int(ipaddress.IPv4Address(client)) & 0xFFFFFFFF)))


def _sixtofour(v4: str) -> str:
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80) | 1))


def _nat64(v4: str) -> str:
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ipaddress.IPv4Address(v4))))


REFUSED_ADDRESSES = {
    "loopback v4": "127.0.0.1",
    "loopback v4, elsewhere in 127/8": "127.45.6.7",
    "loopback v6": "::1",
    "rfc1918 10/8": "10.1.2.3",
    "rfc1918 172.16/12": "172.31.255.254",
    "rfc1918 192.168/16": "192.168.0.1",
    "ula fc00::/7": "fd12:3456:789a::1",
    "ula fc00::": "fc00::1",
    "link-local v4": "169.254.10.20",
    "link-local v6": "fe80::1",
    "cgnat low": "100.64.0.1",
    "cgnat high": "100.127.255.254",
    "multicast v4": "224.0.0.251",
    "multicast v6 global scope": "ff0e::1",
    "reserved 240/4": "240.1.2.3",
    "this network 0/8": "0.1.2.3",
    "unspecified v4": "0.0.0.0",
    "unspecified v6": "::",
    "broadcast": "255.255.255.255",
    "documentation v4": "198.51.100.7",
    "documentation v6": "2001:db8::7",
    "benchmarking": "198.18.0.5",
    "site-local v6": "fec0::1",
    "metadata aws/gcp/azure": "169.254.169.254",
    "metadata aws v6": "fd00:ec2::254",
    "metadata alibaba": "100.100.100.200",
    "v4-mapped loopback": "::ffff:127.0.0.1",
    "v4-mapped metadata": "::ffff:169.254.169.254",
    "v4-mapped private": "::ffff:10.0.0.1",
    "v4-compatible loopback": "::127.0.0.1",
    "6to4 loopback": _sixtofour("127.0.0.1"),
    "6to4 private": _sixtofour("192.168.1.1"),
    "6to4 public (deprecated, still refused)": _sixtofour(PUBLIC_V4),
    "teredo client loopback": _teredo(PUBLIC_V4, "127.0.0.1"),
    "teredo server private": _teredo("10.0.0.1", PUBLIC_V4),
    "nat64 loopback": _nat64("127.0.0.1"),
    "nat64 metadata": _nat64("169.254.169.254"),
    "nat64 private": _nat64("10.0.0.1"),
    "nat64 local-use prefix": "64:ff9b:1::a00:1",
}

# Allow-listing the host never opens these.
ALWAYS_REFUSED = ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "::", "224.0.0.1", "ff02::1"]
ALWAYS_REFUSED += ["255.255.255.255", "::ffff:169.254.169.254", _nat64("169.254.169.254")]

PUBLIC_ADDRESSES = [PUBLIC_V4, "8.8.8.8", "1.1.1.1", PUBLIC_V6, "2a00:1450:4001:80b::200e", _nat64(PUBLIC_V4)]
PUBLIC_ADDRESSES += ["::ffff:" + PUBLIC_V4]


def _literal_url(address: str, port: int | None = None) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}{f':{port}' if port else ''}/hook"


@pytest.mark.parametrize("address", REFUSED_ADDRESSES.values(), ids=REFUSED_ADDRESSES.keys())
def test_refused_address_literal_at_check_time(address):
    assert refusal_reason(address) is not None
    with pytest.raises(OutboundRefused) as refused:
        check_url(_literal_url(address))
    assert refused.value.code == "address"
    assert address in str(refused.value) or refused.value.address == str(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", REFUSED_ADDRESSES.values(), ids=REFUSED_ADDRESSES.keys())
def test_refused_address_literal_at_connect_time(address, net):
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get(_literal_url(address, 8080), timeout=TIMEOUT)
    assert net.connects == []


@pytest.mark.parametrize("address", REFUSED_ADDRESSES.values(), ids=REFUSED_ADDRESSES.keys())
def test_name_resolving_to_refused_address(address, net):
    net.answer("evil.test", [address])
    with pytest.raises(OutboundRefused) as at_check:
        check_url("https://evil.test/hook")
    assert "evil.test" in str(at_check.value) and at_check.value.host == "evil.test"
    with guarded_session() as session, pytest.raises(OutboundRefused) as at_connect:
        session.get("https://evil.test/hook", timeout=TIMEOUT)
    assert at_connect.value.address == at_check.value.address
    assert net.connects == []


@pytest.mark.parametrize("address", [*PUBLIC_ADDRESSES, "192.0.0.9", "192.0.0.10"])
def test_public_answers_pass_the_check(address):
    assert refusal_reason(address) is None


def test_one_private_answer_among_public_ones_is_refused(net):
    net.answer("mixed.test", [PUBLIC_V4, PUBLIC_V6, "10.0.0.5"])
    with pytest.raises(OutboundRefused, match=r"10\.0\.0\.5"):
        check_url("https://mixed.test/")
    with guarded_session() as session, pytest.raises(OutboundRefused, match=r"10\.0\.0\.5"):
        session.get("https://mixed.test/", timeout=TIMEOUT)
    assert net.connects == []


def test_public_answer_is_the_address_the_socket_connects_to(net):
    # The check passes and the socket goes to exactly the checked address; the test's
    # connect guard refuses it without sending a packet.
    net.expect_blocked = True
    net.answer("vendor.example", [PUBLIC_V4])
    check_url("https://vendor.example/v1/sms")
    with guarded_session() as session, pytest.raises(requests.ConnectionError) as failed:
        session.get("http://vendor.example/v1/sms", timeout=TIMEOUT)
    assert not isinstance(failed.value, OutboundRefused)
    assert net.blocked == [(PUBLIC_V4, 80)]


# ---------------------------------------------------------------------------
# Numeric IPv4 spellings
# ---------------------------------------------------------------------------

NUMERIC_LOOPBACK = ["2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1", "0177.0000.0000.0001", "127.1"]
NUMERIC_LOOPBACK += ["127.0.1", "0x7f.1", "017700000001", "127.0.0.01"]


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_os_resolver_reads_numeric_spellings_as_inet_aton(host):
    # What the guard relies on: getaddrinfo normalises these like inet_aton, with no DNS query.
    answers = socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    assert {a[4][0] for a in answers} == {"127.0.0.1"}
    assert socket.inet_aton(host) == socket.inet_aton("127.0.0.1")


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_numeric_spellings_of_loopback_refused(host, net):
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        check_url(f"http://{host}/")
    with guarded_session() as session, pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        session.get(f"http://{host}:8080/", timeout=TIMEOUT)
    assert net.connects == []


@pytest.mark.parametrize(
    ("host", "address"),
    [("0xa9fea9fe", "169.254.169.254"), ("2852039166", "169.254.169.254"), ("0", "0.0.0.0"), ("10.1", "10.0.0.1")],
)
def test_numeric_spellings_of_other_refused_addresses(host, address):
    with pytest.raises(OutboundRefused) as refused:
        check_url(f"http://{host}/")
    assert refused.value.address == address


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

REFUSED_V4_NETWORKS = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
REFUSED_V6_NETWORKS = [
    "::/96",  # unspecified, loopback, deprecated IPv4-compatible
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/32",  # Teredo
    "2001:db8::/32",
    "2002::/16",  # 6to4
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
]


def _addresses_in(networks: list[str]) -> st.SearchStrategy:
    def draw(cidr: str) -> st.SearchStrategy:
        net = ipaddress.ip_network(cidr)
        return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])

    return st.sampled_from(networks).flatmap(draw)


# IANA marks these two inside 192.0.0.0/24 globally reachable (PCP and TURN anycast).
GLOBAL_IN_192_0_0 = {ipaddress.IPv4Address("192.0.0.9"), ipaddress.IPv4Address("192.0.0.10")}
refused_v4 = _addresses_in(REFUSED_V4_NETWORKS).filter(lambda a: a not in GLOBAL_IN_192_0_0)
refused_v6 = _addresses_in(REFUSED_V6_NETWORKS)


@PROPERTY
@given(address=refused_v4 | refused_v6)
def test_any_address_in_a_refused_network_is_refused(address, net):
    assert refusal_reason(address) is not None
    with pytest.raises(OutboundRefused):
        check_url(_literal_url(str(address)))
    net.answer("random.test", [PUBLIC_V4, str(address)])
    with pytest.raises(OutboundRefused):
        check_url("https://random.test/")
    assert net.connects == []


@PROPERTY
@given(v4=refused_v4)
def test_v6_forms_embedding_a_refused_v4_are_refused(v4):
    ip = int(v4)
    forms = [
        ipaddress.IPv6Address((0xFFFF << 32) | ip),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address(ip),  # ::a.b.c.d
        ipaddress.IPv6Address(_nat64(str(v4))),
        ipaddress.IPv6Address(_sixtofour(str(v4))),
        ipaddress.IPv6Address(_teredo(PUBLIC_V4, str(v4))),
        ipaddress.IPv6Address(_teredo(str(v4), PUBLIC_V4)),
    ]
    for form in forms:
        assert refusal_reason(form) is not None, form
        with pytest.raises(OutboundRefused):
            check_url(_literal_url(str(form)))


@PROPERTY
@given(v4=refused_v4, spelling=st.sampled_from(["decimal", "hex", "octal", "short"]))
def test_numeric_spellings_of_refused_v4_are_refused(v4, spelling):
    value, octets = int(v4), v4.packed
    host = {
        "decimal": str(value),
        "hex": hex(value),
        "octal": ".".join(f"0{o:o}" for o in octets),
        "short": f"{octets[0]}.{value & 0xFFFFFF}",
    }[spelling]
    with pytest.raises(OutboundRefused) as refused:
        check_url(f"http://{host}/")
    assert refused.value.address == str(v4)


@PROPERTY
@given(
    address=_addresses_in(
        ["10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "::1/128"]
    ).filter(lambda a: a not in {ipaddress.ip_address("fd00:ec2::254")})
)
def test_allow_listed_host_may_use_private_addresses(address, net):
    net.answer("internal.test", [str(address)])
    assert refusal_reason(address, allow_private=True) is None
    check_url("http://internal.test/", allow=["internal.test"])
    check_url(_literal_url(str(address)), allow=[str(address)])
    with pytest.raises(OutboundRefused):
        check_url("http://internal.test/", allow=["other.test"])


# ---------------------------------------------------------------------------
# Allow-list
# ---------------------------------------------------------------------------


def test_localhost_is_refused_unless_allow_listed(listener, net):
    url = f"http://localhost:{listener.port}/ok"
    with pytest.raises(OutboundRefused, match=r"localhost resolves to 127\.0\.0\.1, a loopback address"):
        check_url(url)
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get(url, timeout=TIMEOUT)
    assert net.connects == [] and listener.seen == []

    check_url(url, allow=["LocalHost."])  # case and trailing dot do not matter
    with guarded_session(allow=["localhost"]) as session:
        response = session.get(url, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, "ok")
    assert listener.seen == [("/ok", f"localhost:{listener.port}")]


def test_allow_listed_loopback_ip_reaches_a_real_listener(listener, net):
    url = f"http://127.0.0.1:{listener.port}/ok"
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get(url, timeout=TIMEOUT)
    assert net.connects == []

    check_url(url, allow=["127.0.0.1"])
    with guarded_session(allow=["127.0.0.1"]) as session:
        response = session.get(url, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, "ok")
    assert net.connects == [("127.0.0.1", listener.port)]


def test_allow_listed_ip_does_not_open_names_that_resolve_to_it(listener, net):
    net.answer("sneaky.test", ["127.0.0.1"])
    with guarded_session(allow=["127.0.0.1"]) as session:
        for url in (f"http://sneaky.test:{listener.port}/ok", f"http://localhost:{listener.port}/ok"):
            with pytest.raises(OutboundRefused):
                session.get(url, timeout=TIMEOUT)
    assert net.connects == []


def test_allow_listed_name_does_not_open_other_names(net):
    net.answer("internal.test", ["10.0.0.8"])
    net.answer("internal.test.evil.test", ["10.0.0.8"])
    check_url("http://internal.test/", allow=["internal.test"])
    for url in ("http://internal.test.evil.test/", "http://sub.internal.test/", "http://10.0.0.8/"):
        with pytest.raises(OutboundRefused):
            check_url(url, allow=["internal.test"])


def test_allow_list_given_as_a_single_string():
    check_url("http://10.0.0.8/", allow="10.0.0.8")


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback here")
def test_allow_listed_ipv6_loopback_reaches_a_real_listener(start_listener, net):
    listener = start_listener(ipv6=True)
    url = f"http://[::1]:{listener.port}/ok"
    with guarded_session() as session, pytest.raises(OutboundRefused, match="loopback"):
        session.get(url, timeout=TIMEOUT)
    assert net.connects == []
    # The same address written another way matches the allow-list entry.
    with guarded_session(allow=["0:0:0:0:0:0:0:1"]) as session:
        response = session.get(url, timeout=TIMEOUT)
    assert response.text == "ok"
    assert [c[0] for c in net.connects] == ["::1"]


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_allow_list_never_opens_metadata_unspecified_multicast_broadcast(address, net):
    net.answer("meta.test", [address])
    assert refusal_reason(address, allow_private=True) is not None
    allow = ["meta.test", address]
    with pytest.raises(OutboundRefused, match="never connects there"):
        check_url("http://meta.test/", allow=allow)
    with pytest.raises(OutboundRefused):
        check_url(_literal_url(address), allow=allow)
    with guarded_session(allow=allow) as session, pytest.raises(OutboundRefused):
        session.get("http://meta.test/", timeout=TIMEOUT)
    assert net.connects == []


# ---------------------------------------------------------------------------
# DNS rebinding: the checked answer is the connected one
# ---------------------------------------------------------------------------


def test_rebinding_name_passes_at_save_time_and_is_refused_at_connect_time(net):
    net.answer("rebind.test", [PUBLIC_V4], ["127.0.0.1"])
    check_url("http://rebind.test/hook")  # first answer: public
    with guarded_session() as session, pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        session.get("http://rebind.test/hook", timeout=TIMEOUT)
    assert net.connects == []


def test_a_refusal_does_not_poison_the_connection_pool(listener, net):
    net.answer("vendor.test", ["169.254.169.254"], ["127.0.0.1"])
    url = f"http://vendor.test:{listener.port}/ok"
    with guarded_session(allow=["vendor.test"]) as session:
        with pytest.raises(OutboundRefused, match="metadata"):
            session.get(url, timeout=TIMEOUT)
        assert session.get(url, timeout=TIMEOUT).text == "ok"
    assert net.connects == [("127.0.0.1", listener.port)]


def test_rebinding_over_https_is_refused_before_any_tls(net):
    net.answer("rebind.test", [PUBLIC_V4], ["::1", "10.0.0.1"])
    check_url("https://rebind.test/hook")
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get("https://rebind.test/hook", timeout=TIMEOUT)
    assert net.connects == []


def test_connect_uses_the_checked_answer_not_a_second_lookup(listener, net):
    # First lookup answers the local listener; any later lookup would answer a public
    # address. Connecting there would mean the socket did its own, unchecked lookup.
    net.answer("vendor.test", ["127.0.0.1"], [PUBLIC_V4])
    with guarded_session(allow=["vendor.test"]) as session:
        response = session.get(f"http://vendor.test:{listener.port}/ok", timeout=TIMEOUT)
    assert response.text == "ok"
    assert net.lookups.count("vendor.test") == 1
    assert net.connects == [("127.0.0.1", listener.port)]
    # The Host header keeps the name, not the IP.
    assert listener.seen == [("/ok", f"vendor.test:{listener.port}")]


# ---------------------------------------------------------------------------
# HTTPS: connect to the checked IP, verify TLS against the host name
# ---------------------------------------------------------------------------


def test_https_connects_to_checked_ip_with_sni_and_verification_on_the_name(tls_listener, tls_material, net):
    net.answer("vendor.test", ["127.0.0.1"], [PUBLIC_V4])
    url = f"https://vendor.test:{tls_listener.port}/ok"
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get(url, timeout=TIMEOUT, verify=str(tls_material / "ca.pem"))
    assert net.connects == [] and tls_listener.sni == []

    net.answer("vendor.test", ["127.0.0.1"], [PUBLIC_V4])
    with guarded_session(allow=["vendor.test"]) as session:
        response = session.get(url, timeout=TIMEOUT, verify=str(tls_material / "ca.pem"))
    assert (response.status_code, response.text) == (200, "ok")
    assert net.connects == [("127.0.0.1", tls_listener.port)]
    assert tls_listener.sni == ["vendor.test"]
    assert tls_listener.seen == [("/ok", f"vendor.test:{tls_listener.port}")]


def test_https_certificate_is_still_checked_against_the_host_name(tls_listener, tls_material, net):
    # Same listener and checked IP, but the URL names a host the certificate does not cover.
    net.answer("other.test", ["127.0.0.1"])
    with guarded_session(allow=["other.test", "127.0.0.1"]) as session:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(
                f"https://other.test:{tls_listener.port}/ok", timeout=TIMEOUT, verify=str(tls_material / "ca.pem")
            )
        # Nor is the certificate accepted for the bare IP it was reached on.
        with pytest.raises(requests.exceptions.SSLError):
            session.get(
                f"https://127.0.0.1:{tls_listener.port}/ok", timeout=TIMEOUT, verify=str(tls_material / "ca.pem")
            )
    assert tls_listener.sni == ["other.test", None]  # no SNI is sent for an IP literal
    assert tls_listener.seen == []


def test_https_to_localhost_is_refused_before_connecting(net):
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get("https://localhost:8443/", timeout=TIMEOUT)
    assert net.connects == []


# ---------------------------------------------------------------------------
# Redirects: every hop is checked at connect time
# ---------------------------------------------------------------------------


def _redirect(listener, target: str) -> str:
    return f"http://127.0.0.1:{listener.port}/redirect?to={quote(target, safe='')}"


def test_redirect_between_allowed_addresses_is_followed(listener, net):
    with guarded_session(allow=["127.0.0.1"]) as session:
        response = session.get(_redirect(listener, f"http://127.0.0.1:{listener.port}/ok"), timeout=TIMEOUT)
        not_followed = session.get(
            _redirect(listener, "http://169.254.169.254/"), timeout=TIMEOUT, allow_redirects=False
        )
    assert response.text == "ok" and [r.status_code for r in response.history] == [302]
    assert not_followed.status_code == 302
    assert [path for path, _ in listener.seen][-1] == "/redirect?to=http%3A%2F%2F169.254.169.254%2F"


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/ok",  # a name not on the allow-list, resolving to loopback
        "http://[::1]:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://0x7f000001:{port}/ok",
        "http://10.0.0.1/",
        "http://rebind.test:{port}/ok",
        "https://rebind.test:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
    ],
)
def test_redirect_from_allowed_listener_to_refused_address_is_refused(target, listener, net):
    net.answer("rebind.test", ["127.0.0.1"])
    with guarded_session(allow=["127.0.0.1"]) as session, pytest.raises(OutboundRefused) as refused:
        session.get(_redirect(listener, target.format(port=listener.port)), timeout=TIMEOUT)
    assert refused.value.code == "address"
    assert [path.split("?")[0] for path, _ in listener.seen] == ["/redirect"]
    assert net.connects == [("127.0.0.1", listener.port)]


@pytest.mark.parametrize(
    "target", ["ftp://example.com/file", "file:///etc/passwd", "gopher://127.0.0.1:70/_x", "dict://127.0.0.1:11211/"]
)
def test_redirect_to_other_schemes_is_refused(target, listener, net):
    with guarded_session(allow=["127.0.0.1"]) as session, pytest.raises(OutboundRefused) as refused:
        session.get(_redirect(listener, target), timeout=TIMEOUT)
    assert refused.value.code == "scheme"


def test_redirect_to_userinfo_url_is_refused(listener):
    with guarded_session(allow=["127.0.0.1"]) as session, pytest.raises(OutboundRefused) as refused:
        session.get(_redirect(listener, f"http://user:pw@127.0.0.1:{listener.port}/ok"), timeout=TIMEOUT)
    assert refused.value.code == "userinfo"


# ---------------------------------------------------------------------------
# URL shape: schemes, userinfo, parser confusion
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "dict://127.0.0.1:11211/",
        "ldap://127.0.0.1/",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "example.com/hook",
        "//example.com/hook",
        "127.0.0.1:8080/hook",
        "http:/example.com/",
        "",
    ],
)
def test_only_http_and_https_urls(url):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert refused.value.code in {"scheme", "invalid_url"}


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:70/"])
def test_other_schemes_are_refused_by_the_session(url, net):
    with guarded_session() as session, pytest.raises(OutboundRefused):
        session.get(url, timeout=TIMEOUT)
    assert net.connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://evil@127.0.0.1/",
        "http://user:pass@vendor.example/",
        "http://vendor.example@127.0.0.1/",
        "http://vendor.example:443@127.0.0.1/",
    ],
)
def test_userinfo_is_refused(url, net):
    net.answer("vendor.example", [PUBLIC_V4])
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert refused.value.code == "userinfo"
    with guarded_session(allow=["127.0.0.1"]) as session, pytest.raises(OutboundRefused):
        session.get(url, timeout=TIMEOUT)
    assert net.connects == []


def test_empty_userinfo_is_refused_at_check_time():
    # requests itself drops an empty "@" before connecting; the form still refuses it.
    with pytest.raises(OutboundRefused) as refused:
        check_url("https://@vendor.example/")
    assert refused.value.code == "userinfo"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\@vendor.example/",
        "http://vendor.example\\@127.0.0.1/",
        "http://vendor.example /",
        "http://vendor.example\t.127.0.0.1/",
        "http://vendor.example\x00/",
        " http://vendor.example/",
    ],
)
def test_characters_that_parsers_disagree_about_are_refused(url):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert refused.value.code == "invalid_url"


def test_ipv6_forms(net):
    for url in ("http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:7f00:1]/", "http://[fe80::1%25lo]/"):
        with pytest.raises(OutboundRefused):
            check_url(url)
    net.answer("v6.test", [PUBLIC_V6])
    check_url("https://v6.test/")
    check_url(f"https://[{PUBLIC_V6}]:8443/hook")
    net.answer("v6only.test", ["fe80::1"])
    with pytest.raises(OutboundRefused, match="link-local"):
        check_url("https://v6only.test/")


def test_public_urls_pass(net):
    net.answer("api.vendor.example", [PUBLIC_V4, PUBLIC_V6])
    check_url("https://api.vendor.example/v1/sms?x=1")
    check_url("https://api.vendor.example/hooks/a@b?notify=ops@127.0.0.1")  # "@" after the host is not userinfo
    check_url("HTTPS://API.VENDOR.EXAMPLE:8443/v1/sms")
    check_url(f"http://{PUBLIC_V4}:8080/hook")


def test_unresolvable_host_has_its_own_code():
    with pytest.raises(OutboundRefused) as refused:
        check_url("https://does-not-exist.test/")
    assert refused.value.code == "unresolvable"


# ---------------------------------------------------------------------------
# The error type and the session's configuration
# ---------------------------------------------------------------------------


def test_refusal_is_a_connection_error_and_distinguishable(net):
    with guarded_session() as session:
        try:
            session.get("http://127.0.0.1:9/", timeout=TIMEOUT)
        except requests.exceptions.ConnectionError as exc:  # what existing callers catch
            caught = exc
    assert isinstance(caught, OutboundRefused)
    assert caught.code == "address" and caught.address == "127.0.0.1"
    assert caught.request is not None and caught.request.url == "http://127.0.0.1:9/"
    assert str(caught).startswith("127.0.0.1 is a loopback address")
    assert not isinstance(requests.exceptions.ConnectionError("x"), OutboundRefused)


def test_session_ignores_environment_proxies_and_refuses_explicit_ones(listener, net, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    with guarded_session(allow=["127.0.0.1"]) as session:
        assert session.trust_env is False
        assert isinstance(session.get_adapter("https://x.example/"), GuardedAdapter)
        assert isinstance(session.get_adapter("http://x.example/"), GuardedAdapter)
        response = session.get(f"http://127.0.0.1:{listener.port}/ok", timeout=TIMEOUT)
        assert response.text == "ok"
        with pytest.raises(OutboundRefused) as refused:
            session.get(
                f"http://127.0.0.1:{listener.port}/ok",
                proxies={"http": f"http://127.0.0.1:{listener.port}"},
                timeout=TIMEOUT,
            )
    assert refused.value.code == "proxy"
    assert listener.seen == [("/ok", f"127.0.0.1:{listener.port}")]  # direct, not through a proxy
    assert net.connects == [("127.0.0.1", listener.port)]


def test_adapter_can_be_mounted_on_an_existing_session(listener):
    session = requests.Session()
    session.mount("http://", GuardedAdapter())
    with session, pytest.raises(OutboundRefused):
        session.get(f"http://127.0.0.1:{listener.port}/ok", timeout=TIMEOUT)
    assert listener.seen == []
