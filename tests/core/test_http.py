"""The shared HTTP session: one deadline a call, a size cap, and no redirect followed."""

from __future__ import annotations

import pytest
import requests

from mailer.core.http import AnswerTooLarge, BoundedSession, CallTooSlow
from tests.fixtures.http import Response
from tests.fixtures.slow_http import SlowServer


def test_a_steady_trickle_ends_at_the_deadline_not_when_the_server_likes():
    """Finding: a byte every read timeout kept a call open as long as the server wished."""
    server = SlowServer("drip-body", interval=0.1)  # 250 bytes: 25 s if left to the server
    try:
        with BoundedSession(timeout=0.8) as http, pytest.raises(CallTooSlow):
            http.get(server.url)
    finally:
        server.close()


def test_a_trickle_is_a_read_timeout_to_callers_that_sort_failures(http_server):
    assert issubclass(CallTooSlow, requests.ReadTimeout)  # providers: 'maybe sent'
    assert issubclass(AnswerTooLarge, requests.RequestException)


def test_an_answer_over_the_cap_is_refused(http_server):
    http_server.expect("GET", "/cert.pem", Response(200, b"x" * 5000))
    http_server.expect("GET", "/cert.pem", Response(200, b"x" * 500))
    with BoundedSession(timeout=5, max_bytes=1000) as http:
        with pytest.raises(AnswerTooLarge):
            http.get(f"{http_server.url}/cert.pem")
        assert http.get(f"{http_server.url}/cert.pem").content == b"x" * 500


def test_redirects_are_answers_not_orders(http_server):
    """Finding: SNS certificate and subscribe fetches followed redirects to unchecked hosts."""
    moved = Response(302, b"", headers={"Location": f"{http_server.url}/internal"})
    http_server.expect("GET", "/cert.pem", moved)
    with BoundedSession(timeout=5) as http:
        answer = http.get(f"{http_server.url}/cert.pem")
    assert answer.status_code == 302
    assert http_server.requests_to("/internal") == []


def test_connections_are_reused_after_a_bounded_read(http_server):
    http_server.route("POST", "/send", lambda req: Response(200, {"ok": True}))
    with BoundedSession(timeout=5) as http:
        answers = [http.post(f"{http_server.url}/send", json={"n": n}) for n in range(5)]
        pools = http.get_adapter(http_server.url).poolmanager.pools
        keys = pools.keys()  # the container refuses plain iteration
        made = [(pools[key].num_connections, pools[key].num_requests) for key in keys]
    assert [a.json() for a in answers] == [{"ok": True}] * 5
    assert made == [(1, 5)]
