"""Racing and fuzzing the signup doors: one subscriber, at most one mail, never a 5xx."""

from __future__ import annotations

import threading

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mailer.core.models import OutboxMessage, Subscriber
from tests.fixtures.readers import aged_stamp, altcha_token, hidden_fields

NEWS = "https://news.example.com"
LOOSE = {"captcha": "altcha", "embed_origins": (NEWS,), "signup_rate_limits": "100000/minute"}


@pytest.fixture
def settings_overrides():
    return LOOSE


def counts(db) -> tuple[int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Subscriber)),
            session.scalar(select(func.count()).select_from(OutboxMessage)),
        )


def test_fifty_concurrent_identical_signups_make_one_subscriber_and_one_mail(
    live_server, db, settings, now
):
    barrier = threading.Barrier(50)
    answers = [altcha_token(settings, now) for _ in range(50)]  # each solution is spent once
    statuses: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with requests.Session() as http:
                page = http.get(f"{live_server.url}/join", timeout=30)
                data = hidden_fields(page.text)
                data.update(
                    email="Same.Reader@Example.com",
                    consent="y",
                    stamp=aged_stamp(settings.secret_key, now),
                    altcha=answers.pop(),
                )
                barrier.wait(timeout=30)
                response = http.post(f"{live_server.url}/join", data=data, timeout=60)
                statuses.append(response.status_code)
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert statuses == [200] * 50
    assert counts(db) == (1, 1)


@pytest.fixture
def form_client(client, settings, now):
    """A client that has opened /join once, and a way to post any fields to it."""
    fields = hidden_fields(client.get("/join").get_data(as_text=True))
    return client, fields


text = st.text(st.characters(codec="utf-8"), max_size=80)
stamps = st.one_of(st.just("good"), st.just("fast"), text)
answers = st.one_of(st.just("solved"), text)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    email=text,
    name=text,
    consent=st.sampled_from(["y", "", "no", None]),
    stamp=stamps,
    honeypot=st.sampled_from(["", "x"]),
    extra=st.dictionaries(text, text, max_size=3),
    answer=answers,
)
def test_fuzzed_join_posts_never_answer_5xx(
    form_client, settings, now, email, name, consent, stamp, honeypot, extra, answer
):
    client, fields = form_client
    data = dict(extra)
    data.update(fields)
    data.update(email=email, first_name=name, website=honeypot)
    if consent is not None:
        data["consent"] = consent
    if stamp == "good":
        data["stamp"] = aged_stamp(settings.secret_key, now)
    elif stamp == "fast":
        data["stamp"] = aged_stamp(settings.secret_key, now, seconds=0)
    else:
        data["stamp"] = stamp
    data["altcha"] = altcha_token(settings, now) if answer == "solved" else answer
    response = client.post("/join", data=data)
    assert response.status_code in (303, 400), response.get_data(as_text=True)[:500]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
api_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "email": st.one_of(text, json_values, st.emails()),
            "first_name": st.one_of(text, json_values),
            "consent": st.one_of(st.just(True), json_values),
            "captcha": st.one_of(st.just("solved"), text, json_values),
            "page": st.one_of(text, json_values),
        },
    ),
)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=api_bodies, origin=st.sampled_from([NEWS, None, "https://evil.example", "null"]))
def test_fuzzed_api_posts_never_answer_5xx(app, settings, now, body, origin):
    client = app.test_client(use_cookies=False)
    if isinstance(body, dict) and body.get("captcha") == "solved":
        body["captcha"] = altcha_token(settings, now)
    headers = {"Origin": origin} if origin else {}
    response = client.post("/api/subscribe", json=body, headers=headers)
    assert response.status_code in (200, 400, 403, 415), response.get_data(as_text=True)[:500]
    assert response.is_json


def test_raw_garbage_bodies_never_answer_5xx(app):
    client = app.test_client(use_cookies=False)
    for body, ctype in [
        (b"\xff\xfe\x00", "application/json"),
        (b"email=%ff%fe&consent=y", "application/x-www-form-urlencoded"),
        (b"x" * (2 * 1024 * 1024), "application/json"),
        (b'{"email": "a@example.com", "consent": true, "captcha": "x"', "application/json"),
    ]:
        for path in ("/api/subscribe", "/join", "/embed/join"):
            response = client.post(path, data=body, content_type=ctype)
            assert response.status_code < 500, (path, body[:20], response.status_code)
