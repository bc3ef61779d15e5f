"""The iframe form and the JSON API: frame-ancestors, Origin checks, CORS, same answers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailer.core.models import OutboxMessage, Subscriber
from tests.fixtures.readers import aged_stamp, altcha_token, hidden_fields

NEWS = "https://news.example.com"


@pytest.fixture
def settings_overrides():
    return {"captcha": "altcha", "embed_origins": (NEWS,)}


def counts(db) -> tuple[int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Subscriber)),
            session.scalar(select(func.count()).select_from(OutboxMessage)),
        )


@pytest.fixture
def no_cookies(app):
    return app.test_client(use_cookies=False)


def embed_fields(client, settings, now, **extra) -> dict:
    page = client.get("/embed/join", headers={"Referer": f"{NEWS}/2026/11/story"})
    data = hidden_fields(page.get_data(as_text=True))
    data["stamp"] = aged_stamp(settings.secret_key, now, kind="embed")
    data.update({"email": "reader@example.com", "consent": "y"})
    data["altcha"] = altcha_token(settings, now)
    data.update(extra)
    return data


def test_embed_is_frameable_only_by_the_configured_origins(no_cookies):
    response = no_cookies.get("/embed/join")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {NEWS}" in csp
    assert "*" not in csp
    assert "Set-Cookie" not in response.headers  # works without third-party cookies
    html = response.get_data(as_text=True)
    assert 'name="csrf_token"' not in html and 'name="stamp"' in html
    assert "<header>" not in html


def test_other_pages_stay_unframeable(no_cookies):
    assert (
        no_cookies.get("/join")
        .headers["Content-Security-Policy"]
        .endswith("frame-ancestors 'self'")
    )


def test_embed_post_with_our_origin_and_no_cookie_subscribes(no_cookies, db, settings, now):
    data = embed_fields(no_cookies, settings, now)
    response = no_cookies.post("/embed/join", data=data, headers={"Origin": "http://localhost"})
    assert (response.status_code, response.location) == (303, "/embed/join/sent")
    assert f"frame-ancestors 'self' {NEWS}" in response.headers["Content-Security-Policy"]
    sent = no_cookies.get(response.location)
    assert "Check your inbox" in sent.get_data(as_text=True)
    assert f"frame-ancestors 'self' {NEWS}" in sent.headers["Content-Security-Policy"]
    assert counts(db) == (1, 1)
    with db.session() as session:
        assert session.scalar(select(Subscriber.origin)) == "embed"


@pytest.mark.parametrize("origin", [None, "https://evil.example", NEWS, "null"])
def test_embed_post_from_elsewhere_is_refused(no_cookies, db, settings, now, origin):
    headers = {"Origin": origin} if origin else {}
    response = no_cookies.post(
        "/embed/join", data=embed_fields(no_cookies, settings, now), headers=headers
    )
    assert response.status_code == 403
    assert "another site" in response.get_data(as_text=True)
    assert counts(db) == (0, 0)


def test_embed_post_needs_the_signed_stamp(no_cookies, db, settings, now):
    data = embed_fields(no_cookies, settings, now, stamp=aged_stamp("wrong", now, kind="embed"))
    response = no_cookies.post("/embed/join", data=data, headers={"Origin": "http://localhost"})
    assert response.status_code == 400
    assert counts(db) == (0, 0)


def test_api_preflight_allows_only_configured_origins(no_cookies):
    allowed = no_cookies.options(
        "/api/subscribe",
        headers={
            "Origin": NEWS,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == NEWS
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in allowed.headers["Access-Control-Allow-Headers"]
    other = no_cookies.options("/api/subscribe", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def api(client, body, origin=NEWS, **kw):
    headers = {"Origin": origin} if origin else {}
    return client.post("/api/subscribe", json=body, headers=headers, **kw)


def test_api_subscribes_with_cors_and_the_same_answer(no_cookies, db, settings, now):
    body = {"email": "reader@example.com", "consent": True, "first_name": "Ann"}
    first = api(no_cookies, dict(body, captcha=altcha_token(settings, now)))
    second = api(no_cookies, dict(body, captcha=altcha_token(settings, now)))
    assert first.status_code == second.status_code == 200
    assert first.json == second.json and first.json["status"] == "ok"
    assert first.headers["Access-Control-Allow-Origin"] == NEWS
    assert counts(db) == (1, 1)
    with db.session() as session:
        assert session.scalar(select(Subscriber.origin)) == "api"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "reader@example.com", "consent": True}, "captcha"),
        ({"email": "reader@example.com", "consent": True, "captcha": ""}, "captcha"),
        ({"email": "reader@example.com", "consent": True, "captcha": 5}, "captcha"),
        ({"email": "reader@example.com", "captcha": "x"}, "consent"),
        ({"email": "reader@example.com", "consent": "yes", "captcha": "x"}, "consent"),
        ({"email": "nope", "consent": True, "captcha": "x"}, "email"),
        ({"email": 7, "consent": True, "captcha": "x"}, "email"),
        (
            {"email": "a@example.com", "first_name": "A\r\nB", "consent": True, "captcha": "x"},
            "first_name",
        ),
        (
            {"email": "a@example.com", "first_name": ["A"], "consent": True, "captcha": "x"},
            "first_name",
        ),
    ],
)
def test_api_refuses_bad_input_with_field_errors(no_cookies, db, body, field):
    response = api(no_cookies, body)
    assert response.status_code == 400
    assert field in response.json["errors"]
    assert response.headers["Access-Control-Allow-Origin"] == NEWS
    assert counts(db) == (0, 0)


def test_api_refuses_foreign_origins_and_non_json(no_cookies, db):
    body = {"email": "reader@example.com", "consent": True, "captcha": "x"}
    foreign = api(no_cookies, body, origin="https://evil.example")
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign.headers
    form = no_cookies.post("/api/subscribe", data=body, headers={"Origin": NEWS})
    assert form.status_code == 415
    garbage = no_cookies.post(
        "/api/subscribe",
        data="{not json",
        content_type="application/json",
        headers={"Origin": NEWS},
    )
    assert garbage.status_code == 400 and garbage.json["message"]
    listed = api(no_cookies, ["reader@example.com"])
    assert listed.status_code == 400
    assert counts(db) == (0, 0)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"captcha": "altcha", "embed_origins": (NEWS,), "signup_rate_limits": "1/minute"}],
)
def test_api_shares_the_per_ip_limit_and_answers_json_429(no_cookies, db, settings, now):
    body = {"email": "reader@example.com", "consent": True}
    assert api(no_cookies, dict(body, captcha=altcha_token(settings, now))).status_code == 200
    limited = api(
        no_cookies, dict(body, email="other@example.com", captcha=altcha_token(settings, now))
    )
    assert limited.status_code == 429
    assert limited.json["error"] == "Too many requests"
    assert limited.headers["Access-Control-Allow-Origin"] == NEWS
    assert counts(db)[0] == 1


@pytest.mark.parametrize("answer", [None, "", "not-base64!", "replayed", "other-key"])
def test_api_refuses_a_missing_forged_or_replayed_captcha(no_cookies, db, settings, now, answer):
    body = {"email": "second@example.com", "consent": True}
    if answer == "replayed":
        answer = altcha_token(settings, now)
        first = api(no_cookies, dict(body, email="first@example.com", captcha=answer))
        assert first.status_code == 200
    elif answer == "other-key":
        import dataclasses

        answer = altcha_token(dataclasses.replace(settings, secret_key="another" * 8), now)
    if answer is not None:
        body["captcha"] = answer
    response = api(no_cookies, body)
    assert response.status_code == 400
    assert "captcha" in response.json["errors"]
    with db.session() as session:
        assert "second@example.com" not in set(session.scalars(select(Subscriber.email)))
