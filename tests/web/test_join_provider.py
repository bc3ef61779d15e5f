"""/join with a third-party CAPTCHA whose siteverify runs on a local server: fail closed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailer.core.models import Subscriber
from tests.fixtures.http import Response

ANSWERS = {
    "ok": Response(200, {"success": True, "hostname": "localhost"}),
    "refused": Response(200, {"success": False, "error-codes": ["invalid-input-response"]}),
    "other-host": Response(200, {"success": True, "hostname": "evil.example"}),
    "down": Response(500, "Internal Server Error"),
    "garbage": Response(200, "<html>not json</html>"),
}


@pytest.fixture
def settings_overrides(http_server):
    return {
        "captcha": "recaptcha-v2",
        "captcha_secret": "provider-secret",
        "captcha_site_key": "site-key",
        "captcha_verify_url": http_server.url + "/recaptcha/api/siteverify",
    }


def subscribers(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Subscriber))


@pytest.mark.parametrize(
    ("answer", "status", "text", "stored"),
    [
        ("ok", 200, "Check your inbox", 1),
        ("refused", 400, "CAPTCHA check did not pass", 0),
        ("other-host", 400, "CAPTCHA check did not pass", 0),
        ("down", 503, "try again", 0),
        ("garbage", 503, "try again", 0),
    ],
)
def test_siteverify_answers_decide_and_failures_fail_closed(
    join_post, http_server, db, answer, status, text, stored
):
    http_server.expect("POST", "/recaptcha/api/siteverify", ANSWERS[answer])
    response = join_post(**{"g-recaptcha-response": "token-from-the-widget"})
    assert response.status_code == status
    assert text in response.get_data(as_text=True)
    assert subscribers(db) == stored
    [call] = http_server.requests_to("/recaptcha/api/siteverify")
    form = call.form()
    assert (form["secret"], form["response"]) == ("provider-secret", "token-from-the-widget")


def test_the_form_page_allows_the_providers_script_and_nothing_more(client):
    response = client.get("/join")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://www.google.com/recaptcha/" in csp
    assert "frame-ancestors 'self'" in csp
    assert 'class="g-recaptcha"' in response.get_data(as_text=True)
