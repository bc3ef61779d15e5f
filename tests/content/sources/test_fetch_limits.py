"""Sources are fetched within one deadline, and never from private or loopback addresses."""

import ssl

import pytest
import trustme

from mailer.content.sources.client import SourceSession
from mailer.content.sources.fetch import FetchError, fetch
from mailer.content.sources.guard import parse_allowlist, refusal
from mailer.content.sources.ingest import ingest_source
from tests.fixtures.http import Response
from tests.fixtures.slow_http import SlowServer

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Intranet</title><item>'
    b"<title>Secret</title><link>https://news.example.com/secret</link></item></channel></rss>"
)


def session(allow=(), read_timeout=5.0, deadline=30.0) -> SourceSession:
    return SourceSession(read_timeout=read_timeout, deadline=deadline, allow_hosts=allow)


@pytest.fixture
def slow(request):
    server = SlowServer(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("slow", ["drip-body", "drip-headers", "silent"], indirect=True)
def test_a_source_that_answers_slowly_is_cut_at_the_deadline(slow):
    # Every single read succeeds well inside the 5 s read timeout; only the overall
    # deadline (1 s, against a feed that needs over a minute) can end the fetch.
    with session(allow=("127.0.0.1",), deadline=1.0) as http, pytest.raises(FetchError) as failure:
        fetch(http, slow.url)
    assert "took longer than 1 s in all" in str(failure.value)


@pytest.mark.parametrize("slow", ["drip-body"], indirect=True)
def test_a_slow_source_is_a_recorded_failure(slow, db, settings, now):
    with session(allow=("127.0.0.1",), deadline=1.0) as http:
        report = ingest_source(db, http, slow.url, now, settings)
    assert "took longer than" in report.error


def test_the_deadline_also_holds_for_https_sources(http_server):
    """TLS goes through the same checked connection, verified against the host name."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    http_server.server.socket = server_context.wrap_socket(
        http_server.server.socket, server_side=True
    )
    http_server.route("GET", "/feed.xml", lambda r: Response(200, FEED))
    with ca.cert_pem.tempfile() as cafile, session(allow=("127.0.0.1",)) as http:
        http.verify = cafile
        url = http_server.url.replace("http://", "https://") + "/feed.xml"
        assert fetch(http, url).body == FEED
        http.verify = True  # a certificate this machine does not trust is still refused
        with pytest.raises(FetchError, match="cannot connect"):
            fetch(http, url)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[fe80::1]",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "[fc00::1]",
        "[2002:7f00:1::]",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused_before_connecting(address):
    with session() as http, pytest.raises(FetchError) as failure:
        fetch(http, f"http://{address}:9/feed.xml")
    assert "refused" in str(failure.value) and "not a public address" in str(failure.value)


def test_public_addresses_pass_the_check():
    assert refusal("93.184.216.34") is None and refusal("2606:4700::1111") is None


def test_a_loopback_source_is_not_stored(db, settings, now, http_server):
    http_server.route("GET", "/intranet.xml", lambda r: Response(200, FEED))
    with session() as http:
        report = ingest_source(db, http, http_server.url + "/intranet.xml", now, settings)
    assert report.error.startswith("refused: 127.0.0.1 is not a public address (loopback)")
    assert report.new == 0
    assert http_server.requests == []


def test_a_name_that_resolves_to_loopback_is_refused_though_the_address_is_allowed(http_server):
    http_server.route("GET", "/intranet.xml", lambda r: Response(200, FEED))
    port = http_server.url.rsplit(":", 1)[1]
    resolved = "localhost resolves to 127.0.0.1"
    with session(allow=("127.0.0.1",)) as http, pytest.raises(FetchError, match=resolved):
        fetch(http, f"http://localhost:{port}/intranet.xml")
    assert http_server.requests == []


def test_a_redirect_to_a_refused_host_is_not_followed(http_server):
    inside = http_server.url.replace("127.0.0.1", "localhost") + "/intranet.xml"
    http_server.route("GET", "/intranet.xml", lambda r: Response(200, FEED))
    http_server.route("GET", "/feed.xml", lambda r: Response(302, b"", {"Location": inside}))
    with session(allow=("127.0.0.1",)) as http, pytest.raises(FetchError, match="refused"):
        fetch(http, http_server.url + "/feed.xml")
    assert [r.path for r in http_server.requests] == ["/feed.xml"]


def test_an_allowlisted_port_allows_that_port_only(http_server):
    other = SlowServer("held")
    try:
        http_server.route("GET", "/f.xml", lambda r: Response(200, FEED))
        port = int(http_server.url.rsplit(":", 1)[1])
        with session(allow=(f"127.0.0.1:{port}",)) as http:
            assert fetch(http, http_server.url + "/f.xml").body == FEED
            with pytest.raises(FetchError, match="refused"):
                fetch(http, other.url)
        assert not other.asked.is_set()
    finally:
        other.close()


def test_allowlist_entries():
    assert parse_allowlist(("Feeds.Intra.", "10.0.0.5:8080", "[::1]:81", "[fd00::1]")) == {
        ("feeds.intra", None),
        ("10.0.0.5", 8080),
        ("::1", 81),
        ("fd00::1", None),
    }
    with pytest.raises(ValueError):
        parse_allowlist(("host:http",))


@pytest.mark.parametrize("location", ["http://[::1/x", "http://news.example.com:99999/x"])
def test_a_redirect_to_a_broken_url_is_a_clear_error(http_server, location):
    http_server.route("GET", "/feed.xml", lambda r: Response(302, b"", {"Location": location}))
    with session(allow=("127.0.0.1",)) as http, pytest.raises(FetchError):
        fetch(http, http_server.url + "/feed.xml")


def test_only_a_source_session_fetches(http_server):
    import requests

    with requests.Session() as plain, pytest.raises(TypeError):
        fetch(plain, http_server.url + "/f.xml")
