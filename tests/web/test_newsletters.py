"""Several newsletters on the reader's side: the API's choice, the one-click link that leaves
one newsletter and keeps the other, preferences, and who each newsletter's digest goes to."""

import pytest
from sqlalchemy import select

from mailer.core.models import (
    ConsentEvent,
    Digest,
    OutboxMessage,
    Subscriber,
)
from mailer.delivery import ledger
from mailer.readers import links, newsletters, subscriptions
from tests.fixtures.readers import altcha_token, path_of, taken


@pytest.fixture
def settings_overrides():
    return {"captcha": "altcha"}


def issue(db, slug: str, period: str, now) -> int:
    with db.session() as session:
        nid = newsletters.find(session, slug).id
        digest = Digest(
            newsletter_id=nid, period_key=period, status="approved", created_at=now, updated_at=now
        )
        session.add(digest)
        session.flush()
        return digest.id


def test_one_click_leaves_one_newsletter_and_keeps_the_other(app, db, settings, now):
    daily = newsletters.add(db, now, slug="daily", name="Daily Brief", cadence="daily")
    sid = subscriptions.add_by_operator(
        db, settings, "two@example.com", None, now, confirmed=True, operator="t",
        newsletters=("weekly", "daily"),
    ).subscriber_id  # fmt: skip
    assert taken(db, sid) == {"weekly": "active", "daily": "active"}
    with db.session() as session:
        nonce = session.get(Subscriber, sid).token_nonce
    path = path_of(links.unsubscribe_url(settings, sid, nonce, now, newsletter_id=daily.id))
    client = app.test_client(use_cookies=False)
    page = client.get(path).get_data(as_text=True)
    assert "Unsubscribe from Daily Brief?" in page and "Unsubscribe from all" in page
    answer = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert taken(db, sid) == {"weekly": "active", "daily": "unsubscribed"}
    with db.session() as session:
        assert session.get(Subscriber, sid).status == "confirmed"
        event = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "withdraw"))
    assert event.detail == {"how": "one-click", "previous": "confirmed", "newsletters": ["daily"]}
    # each newsletter's issue goes to its own readers only
    assert ledger.materialise(db, issue(db, "daily", "2026-11-26", now), now) == 0
    assert ledger.materialise(db, issue(db, "weekly", "2026-W48", now), now) == 1
    assert ledger.reader_count(db, newsletter_id=daily.id) == 0 and ledger.reader_count(db) == 1
    # a link made before there were several newsletters leaves every one
    old = path_of(links.unsubscribe_url(settings, sid, nonce, now))
    assert client.post(old, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert taken(db, sid) == {"weekly": "unsubscribed", "daily": "unsubscribed"}
    with db.session() as session:
        assert session.get(Subscriber, sid).status == "unsubscribed"


def test_the_api_takes_a_list_and_refuses_unknown_newsletters(app, db, settings, now):
    newsletters.add(db, now, slug="daily", name="Daily Brief", cadence="daily")
    client = app.test_client(use_cookies=False)
    body = {"email": "api@example.com", "consent": True, "captcha": "x"}
    wrong = client.post("/api/subscribe", json={**body, "newsletters": ["nope"]})
    assert wrong.status_code == 400
    assert wrong.json["errors"]["newsletters"] == ["There is no newsletter called 'nope'."]
    assert client.post("/api/subscribe", json={**body, "newsletters": "daily"}).status_code == 400
    assert client.post("/api/subscribe", json={**body, "newsletters": []}).status_code == 400
    solved = {**body, "captcha": altcha_token(settings, now), "newsletters": ["daily"]}
    ok = client.post("/api/subscribe", json=solved)
    assert ok.status_code == 200, ok.json
    with db.session() as session:
        sid = session.scalar(select(Subscriber.id))
        signup = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "signup"))
        mail = session.scalars(select(OutboxMessage)).one()
    assert signup.detail["newsletters"] == ["daily"]
    assert taken(db, sid) == {}  # nothing starts before the owner confirms
    token = next(w for w in mail.text.split() if "/confirm/" in w).rsplit("/", 1)[1]
    assert subscriptions.confirm(db, settings, token, None, now).result == "done"
    assert taken(db, sid) == {"daily": "active"}


def test_preferences_change_newsletters(app, db, settings, now):
    newsletters.add(db, now, slug="daily", name="Daily Brief", cadence="daily")
    sid = subscriptions.add_by_operator(
        db, settings, "prefs@example.com", None, now, confirmed=True, operator="t"
    ).subscriber_id
    with db.session() as session:
        nonce = session.get(Subscriber, sid).token_nonce
    client = app.test_client()
    path = path_of(links.preferences_url(settings, sid, nonce, now))
    page = client.get(path).get_data(as_text=True)
    assert "Your newsletters" in page and "Unsubscribe from all" in page
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": token, "action": "newsletters", "newsletters": ["daily"]}
    saved = client.post(path, data=form)
    assert "Your newsletters are saved." in saved.get_data(as_text=True)
    assert taken(db, sid) == {"weekly": "unsubscribed", "daily": "active"}
    left = client.post(path, data={"csrf_token": token, "action": "newsletters"})
    assert "You are unsubscribed" in left.get_data(as_text=True)
    with db.session() as session:
        assert session.get(Subscriber, sid).status == "unsubscribed"
