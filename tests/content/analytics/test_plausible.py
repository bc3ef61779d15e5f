"""Plausible Stats API v2 against a local stand-in that checks the query and pages."""

import socket
import threading
import time

import pytest

from mailer.content.analytics.base import AnalyticsError, PageStat
from tests.content.analytics.helpers import fetch, provider
from tests.fixtures.http import Response


def test_views_and_time_on_page_per_path(plausible):
    plausible.pages = [("/story/1", 120, 30.5), ("/story/2", 40, None)]
    stats = fetch(provider(plausible.dsn))
    assert stats == [PageStat("/story/1", 120, 3660), PageStat("/story/2", 40, None)]
    (query,) = plausible.queries
    assert query["date_range"] == ["2026-11-23", "2026-11-25"]  # Monday to today, London
    assert query["metrics"] == ["pageviews", "time_on_page"]
    assert query["pagination"] == {"limit": 1000, "offset": 0}


def test_pages_through_every_row(plausible):
    plausible.pages = [(f"/p/{n}", n, 1) for n in range(2500)]
    stats = fetch(provider(plausible.dsn))
    assert len(stats) == 2500 and stats[-1].url == "/p/2499"
    assert [q["pagination"]["offset"] for q in plausible.queries] == [0, 1000, 2000]


def test_the_page_limit_keeps_the_most_viewed_and_says_so(plausible):
    plausible.pages = [(f"/p/{n}", 5000 - n, 1) for n in range(2500)]
    source = provider(plausible.dsn + "?pages=2")
    stats = fetch(source)
    assert len(stats) == 2000 and len(plausible.queries) == 2
    assert "stopped after 2 pages" in source.notes[0]


def test_an_older_plausible_without_time_on_page_gives_views_alone(plausible):
    plausible.knows_time_on_page = False
    plausible.pages = [("/story/1", 12, 9)]
    assert fetch(provider(plausible.dsn)) == [PageStat("/story/1", 12, None)]
    assert [q["metrics"] for q in plausible.queries] == [
        ["pageviews", "time_on_page"],
        ["pageviews"],
    ]


def test_a_wrong_key_is_refused_with_plausibles_words(plausible):
    bad = plausible.dsn.replace("analytics-key-123", "wrong")
    with pytest.raises(AnalyticsError, match=r"refused the credentials \(HTTP 401\): Invalid API"):
        fetch(provider(bad))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            Response(429, {"error": "Too many requests"}, {"Retry-After": "120"}),
            r"rate limited us \(HTTP 429\): Too many requests; it asks to wait 120 s",
        ),
        (Response(500, "<html>Internal Server Error</html>"), r"answered HTTP 500$"),
        (Response(200, b'{"results": [{"dimensions"'), "not JSON"),
        (Response(200, [1, 2]), "not a JSON object"),
        (Response(200, {"results": "many"}), "no results list"),
        (Response(302, b"", {"Location": "https://elsewhere.example/"}), "redirect"),
    ],
)
def test_failures_are_one_sentence(plausible, http_server, answer, expected):
    http_server.expect("POST", plausible.path, answer)
    with pytest.raises(AnalyticsError, match=expected):
        fetch(provider(plausible.dsn))


def test_a_slow_answer_runs_out_the_time_budget(plausible, http_server):
    http_server.expect("POST", plausible.path, Response(200, {"results": []}, delay=2.0))
    with pytest.raises(AnalyticsError, match=r"did not answer within 0\.5 s"):
        fetch(provider(plausible.dsn + "?timeout=0.5"))


def test_an_oversized_answer_is_refused(plausible):
    plausible.pages = [(f"/story/{n}", n, 1) for n in range(200)]
    with pytest.raises(AnalyticsError, match="larger than 2000 bytes"):
        fetch(provider(plausible.dsn, max_bytes=2000))


def test_hostile_rows_are_left_out_and_counted(plausible, http_server):
    rows = [
        {"dimensions": ["/good"], "metrics": [7, 2]},
        {"dimensions": ["/words"], "metrics": ["lots", 1]},
        {"dimensions": ["/negative"], "metrics": [-5, 1]},
        {"dimensions": ["/huge"], "metrics": [1e300, 1]},
        {"dimensions": ["/true"], "metrics": [True, 1]},
        {"dimensions": [123], "metrics": [1, 1]},
        {"dimensions": ["/has space\n"], "metrics": [1, 1]},
        {"dimensions": ["/" + "a" * 5000], "metrics": [1, 1]},
        {"dimensions": [], "metrics": [1]},
        {"dimensions": ["/no-metrics"]},
        "not a row",
        {"dimensions": ["/odd-time"], "metrics": ["12", "NaN"]},
    ]
    http_server.expect("POST", plausible.path, Response(200, {"results": rows, "meta": {}}))
    source = provider(plausible.dsn)
    assert fetch(source) == [PageStat("/good", 7, 14), PageStat("/odd-time", 12, None)]
    assert source.rejected == 10


def test_nan_and_infinity_in_the_json_do_not_get_through(plausible, http_server):
    body = b'{"results": [{"dimensions": ["/a"], "metrics": [NaN, 1]}, '
    body += b'{"dimensions": ["/b"], "metrics": [Infinity, 1]}, '
    body += b'{"dimensions": ["/c"], "metrics": [3, -Infinity]}]}'
    http_server.expect("POST", plausible.path, Response(200, body))
    assert fetch(provider(plausible.dsn)) == [PageStat("/c", 3, None)]


def test_a_week_that_has_not_started_asks_nothing(plausible):
    with pytest.raises(AnalyticsError, match="has not started"):
        fetch(provider(plausible.dsn), period="2026-W50")
    assert plausible.queries == []


@pytest.fixture
def trickling_server():
    """Answers headers at once, then one byte of body every 0.1 s, for as long as it is read."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            conn.sendall(b"Content-Length: 100000\r\n\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(timeout=5)


def test_a_trickling_answer_cannot_outlast_the_time_budget(trickling_server):
    dsn = f"plausible://key@127.0.0.1:{trickling_server}/news.example.com?timeout=0.5"
    with pytest.raises(AnalyticsError, match=r"did not answer within 0\.5 s"):
        fetch(provider(dsn, http_timeout=5.0))


def test_nobody_listening_is_a_connection_error():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pytest.raises(AnalyticsError, match="cannot connect to Plausible: ConnectionError"):
        fetch(provider(f"plausible://key@127.0.0.1:{port}/news.example.com"))
