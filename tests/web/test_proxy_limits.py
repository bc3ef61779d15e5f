"""Hardening finding 1: behind a reverse proxy each visitor has their own limits, and sign-ins
are limited per account as well as per address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.core.models import ConsentEvent
from tests.fixtures.editors import FAST_COST
from tests.fixtures.readers import altcha_token
from tests.web.test_admin import PASSWORD, csrf_from

NEWS = "https://news.example.com"


@pytest.fixture
def settings_overrides():
    return {"trusted_proxy_hops": 1, "signup_rate_limits": "3/minute", "embed_origins": (NEWS,)}


def api_post(client, forwarded_for: str):
    headers = {"Origin": NEWS, "X-Forwarded-For": forwarded_for}
    return client.post("/api/subscribe", json={"email": ""}, headers=headers)


def test_behind_a_proxy_each_visitor_has_a_bucket(app):
    client = app.test_client(use_cookies=False)
    # Many visitors through the one proxy (the test client's 127.0.0.1): none is limited.
    assert {api_post(client, f"203.0.113.{n}").status_code for n in range(10)} == {400}
    # One visitor is limited on their own, even when they prepend forged addresses: only the
    # last hop (the one our proxy appended) counts.
    same = [api_post(client, f"9.9.9.{n}, 198.51.100.7").status_code for n in range(4)]
    assert same == [400, 400, 400, 429]


def test_the_consent_record_keeps_the_visitors_address(app, db, settings, now):
    body = {"email": "reader@example.com", "consent": True, "captcha": altcha_token(settings, now)}
    headers = {"Origin": NEWS, "X-Forwarded-For": "203.0.113.5"}
    response = app.test_client().post("/api/subscribe", json=body, headers=headers)
    assert response.status_code == 200
    with db.session() as session:
        assert session.scalar(select(ConsentEvent.ip)) == "203.0.113.5"


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(tmp_path, migrated_database_url):
    from app import create_app
    from mailer.services import build
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        migrated_database_url,
        trusted_proxy_hops=0,
        signup_rate_limits="3/minute",
        embed_origins=(NEWS,),
    )
    svc = build(settings)
    try:
        client = create_app(services=svc).test_client(use_cookies=False)
        statuses = [api_post(client, f"203.0.113.{n}").status_code for n in range(4)]
    finally:
        svc.close()
    assert statuses == [400, 400, 400, 429]  # a forged header does not buy a fresh bucket


def sign_in(client, email: str, password: str, forwarded_for: str):
    page = client.get("/admin/login", headers={"X-Forwarded-For": forwarded_for})
    data = {"email": email, "password": password, "csrf_token": csrf_from(page.get_data(True))}
    return client.post("/admin/login", data=data, headers={"X-Forwarded-For": forwarded_for})


def test_failed_sign_ins_are_limited_per_account_across_addresses(app, db, now):
    from mailer.editions.accounts import add_editor

    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)
        add_editor(session, "other@example.com", PASSWORD, "editor", now, cost=FAST_COST)
    client = app.test_client()
    guesses = [
        sign_in(client, " ED@example.com", "wrong password", f"203.0.113.{n}").status_code
        for n in range(11)
    ]
    assert guesses == [401] * 10 + [429]  # every guess from a new address, one account
    # Another account, from an address that guessed before, is not held up.
    assert sign_in(client, "other@example.com", PASSWORD, "203.0.113.1").status_code == 302
