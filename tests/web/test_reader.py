"""Links from mail: GET shows a button, POST acts; one-click unsubscribe as RFC 8058 says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailer.core.models import ConsentEvent, OutboxMessage, Subscriber, Suppression
from mailer.readers import links, subscriptions
from mailer.readers.suppressions import address_hash
from tests.fixtures.readers import hidden_fields, path_of


@pytest.fixture
def settings_overrides():
    return {"captcha": "none"}


@pytest.fixture
def pending(db, settings, now):
    sid = subscriptions.subscribe(
        db, settings, subscriptions.Signup("reader@example.com", first_name="Ann"), now
    ).subscriber_id
    return sid


def sub_of(db, sid) -> Subscriber:
    with db.session() as session:
        return session.get(Subscriber, sid)


def confirm_path(db, settings, sid, issued) -> str:
    return path_of(links.confirm_url(settings, sid, sub_of(db, sid).token_nonce, issued))


def confirmed(db, settings, sid, now) -> Subscriber:
    token = confirm_path(db, settings, sid, now).rsplit("/", 1)[1]
    assert subscriptions.confirm(db, settings, token, None, now).result == "done"
    return sub_of(db, sid)


def test_confirm_link_from_the_queued_mail_works_and_get_changes_nothing(
    client, db, settings, pending
):
    with db.session() as session:
        text = session.scalar(select(OutboxMessage.text))
    url = next(w for w in text.split() if "/confirm/" in w)
    for _ in range(3):  # a mail scanner following the link
        page = client.get(path_of(url))
        assert page.status_code == 200
    assert sub_of(db, pending).status == "pending"
    html = page.get_data(as_text=True)
    assert "<button" in html and "Confirm" in html
    response = client.post(path_of(url), data=hidden_fields(html))
    assert response.status_code == 200
    assert "You are subscribed" in response.get_data(as_text=True)
    assert "/preferences/" in response.get_data(as_text=True)
    assert sub_of(db, pending).status == "confirmed"
    again = client.post(path_of(url), data=hidden_fields(html))
    assert again.status_code == 200 and "already subscribed" in again.get_data(as_text=True)
    with db.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(ConsentEvent).where(ConsentEvent.kind == "confirm")
            )
            == 1
        )


def test_confirm_post_needs_the_csrf_token(client, db, settings, pending, now):
    response = client.post(confirm_path(db, settings, pending, now))
    assert response.status_code == 400
    assert sub_of(db, pending).status == "pending"


def test_expired_link_offers_a_fresh_one(client, db, settings, now):
    signed_up = now - timedelta(hours=settings.confirm_hours + 1)
    sid = subscriptions.subscribe(
        db, settings, subscriptions.Signup("late@example.com"), signed_up
    ).subscriber_id
    path = confirm_path(db, settings, sid, signed_up)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Send me a fresh link" in html
    fields = hidden_fields(html)
    assert client.post(path, data={"csrf_token": fields["csrf_token"]}).status_code == 410
    assert sub_of(db, sid).status == "pending"
    response = client.post(path, data=fields)
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    with db.session() as session:
        mails = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert len(mails) == 2 and mails[1].created_at == now
    fresh = next(w for w in mails[1].text.split() if "/confirm/" in w)
    assert client.get(path_of(fresh)).status_code == 200
    assert "Confirm" in client.get(path_of(fresh)).get_data(as_text=True)


def test_bad_links_are_readable_404s(client):
    for path in ("/confirm/nonsense", "/unsubscribe/nonsense", "/preferences/nonsense"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Link not valid" in response.get_data(as_text=True)


def test_unsubscribe_get_shows_a_button_and_post_acts(client, db, settings, pending, now):
    sub = confirmed(db, settings, pending, now)
    path = path_of(links.unsubscribe_url(settings, sub.id, sub.token_nonce, now))
    page = client.get(path)
    assert page.status_code == 200 and "<button" in page.get_data(as_text=True)
    assert sub_of(db, pending).status == "confirmed"
    response = client.post(path)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert sub_of(db, pending).status == "unsubscribed"
    with db.session() as session:
        event = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "withdraw"))
    assert event.detail["how"] == "link"


def test_rfc8058_one_click_needs_no_cookie_and_does_not_redirect(app, db, settings, pending, now):
    sub = confirmed(db, settings, pending, now)
    path = path_of(links.unsubscribe_url(settings, sub.id, sub.token_nonce, now))
    fresh_client = app.test_client(use_cookies=False)
    response = fresh_client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert sub_of(db, pending).status == "unsubscribed"
    with db.session() as session:
        event = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "withdraw"))
    assert event.detail == {
        "how": "one-click",
        "previous": "confirmed",
        "newsletters": ["weekly"],
        "all": True,
    }
    assert fresh_client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def prefs_path(db, settings, sid, issued) -> str:
    return path_of(links.preferences_url(settings, sid, sub_of(db, sid).token_nonce, issued))


def test_preferences_name_pause_resume_unsubscribe(client, db, settings, pending, now):
    confirmed(db, settings, pending, now)
    path = prefs_path(db, settings, pending, now)
    page = client.get(path)
    assert page.status_code == 200 and 'value="Ann"' in page.get_data(as_text=True)
    token = hidden_fields(page.get_data(as_text=True))["csrf_token"]
    saved = client.post(path, data={"csrf_token": token, "action": "save", "first_name": "Annie"})
    assert saved.status_code == 200 and sub_of(db, pending).first_name == "Annie"
    bad = client.post(path, data={"csrf_token": token, "action": "save", "first_name": "A\r\nB"})
    assert bad.status_code == 400 and 'id="first_name-error"' in bad.get_data(as_text=True)
    assert sub_of(db, pending).first_name == "Annie"
    client.post(path, data={"csrf_token": token, "action": "pause"})
    assert sub_of(db, pending).paused is True
    assert "Resume mail" in client.get(path).get_data(as_text=True)
    client.post(path, data={"csrf_token": token, "action": "resume"})
    assert sub_of(db, pending).paused is False
    assert sub_of(db, pending).first_name == "Annie"
    client.post(path, data={"csrf_token": token, "action": "unsubscribe"})
    assert sub_of(db, pending).status == "unsubscribed"
    with db.session() as session:
        how = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "withdraw")).detail
    assert how["how"] == "preferences"


def test_preferences_post_needs_csrf(client, db, settings, pending, now):
    confirmed(db, settings, pending, now)
    response = client.post(prefs_path(db, settings, pending, now), data={"action": "unsubscribe"})
    assert response.status_code == 400
    assert sub_of(db, pending).status == "confirmed"


def mailed_link(db, kind: str, marker: str) -> str:
    with db.session() as session:
        mail = session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.kind == kind)
            .order_by(OutboxMessage.id.desc())
        )
    assert mail is not None and mail.recipient == "reader@example.com"
    return path_of(next(w for w in mail.text.split() if marker in w))


def test_download_my_data_and_forget_me_go_through_a_mailed_link(
    client, db, settings, pending, now
):
    """A forwarded issue opens the preferences, but data leaves only through the owner's inbox."""
    confirmed(db, settings, pending, now)
    path = prefs_path(db, settings, pending, now)
    page = client.get(path).get_data(as_text=True)
    token = hidden_fields(page)["csrf_token"]
    assert 'value="export"' not in page and 'value="forget"' not in page
    for action in ("export", "forget"):  # the old buttons no longer act from this page
        refused = client.post(
            path, data={"csrf_token": token, "action": action, "confirm_forget": "yes"}
        )
        assert refused.status_code == 400
    assert sub_of(db, pending).status == "confirmed"
    asked = client.post(path, data={"csrf_token": token, "action": "data-link"})
    assert asked.status_code == 200 and "works for one hour" in asked.get_data(as_text=True)
    data_path = mailed_link(db, "data", "/my-data/")
    shown = client.get(data_path)
    assert shown.status_code == 200 and sub_of(db, pending).status == "confirmed"
    token = hidden_fields(shown.get_data(as_text=True))["csrf_token"]
    export = client.post(data_path, data={"csrf_token": token, "action": "export"})
    assert export.status_code == 200 and export.mimetype == "application/json"
    assert "attachment" in export.headers["Content-Disposition"]
    assert export.json["subscriber"]["email"] == "reader@example.com"
    unconfirmed = client.post(data_path, data={"csrf_token": token, "action": "forget"})
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.get_data(as_text=True)
    assert sub_of(db, pending).status == "confirmed"
    gone = client.post(
        data_path, data={"csrf_token": token, "action": "forget", "confirm_forget": "yes"}
    )
    assert gone.status_code == 200 and "erased" in gone.get_data(as_text=True)
    sub = sub_of(db, pending)
    assert (sub.email, sub.first_name, sub.status) == (None, None, "erased")
    with db.session() as session:
        supp = session.scalar(select(Suppression))
    assert supp.email is None and supp.email_hash == address_hash("reader@example.com")
    assert client.get(path).status_code == 404
    assert client.get(data_path).status_code == 404


def test_a_data_link_works_for_an_hour_and_not_after_a_new_confirmation(
    client, db, settings, pending, now
):
    sub = confirmed(db, settings, pending, now)
    fresh = path_of(links.data_url(settings, sub.id, sub.token_nonce, now - timedelta(minutes=59)))
    stale = path_of(links.data_url(settings, sub.id, sub.token_nonce, now - timedelta(minutes=61)))
    assert client.get(fresh).status_code == 200
    expired = client.get(stale)
    assert expired.status_code == 410 and "one hour" in expired.get_data(as_text=True)
    assert client.get("/my-data/not-a-token").status_code == 404
    rejoin_and_confirm(db, settings, pending, now)
    assert client.get(fresh).status_code == 410
    assert sub_of(db, pending).status == "confirmed"


def test_data_link_mails_are_limited_per_reader(client, db, settings, pending, now):
    confirmed(db, settings, pending, now)
    path = prefs_path(db, settings, pending, now)
    token = hidden_fields(client.get(path).get_data(as_text=True))["csrf_token"]
    answers = [
        client.post(path, data={"csrf_token": token, "action": "data-link"}).get_data(as_text=True)
        for _ in range(3)
    ]
    assert "a few minutes ago" in answers[-1]
    with db.session() as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert kinds.count("data") == 1


def test_a_preferences_link_expires_like_an_unsubscribe_link_and_offers_fresh_links(
    app, db, settings, pending, now
):
    sub = confirmed(db, settings, pending, now)
    days = settings.unsubscribe_link_days
    recent = path_of(
        links.preferences_url(settings, sub.id, sub.token_nonce, now - timedelta(days - 1))
    )
    old = path_of(
        links.preferences_url(settings, sub.id, sub.token_nonce, now - timedelta(days + 1))
    )
    client = app.test_client()
    assert client.get(recent).status_code == 200
    page = client.get(old)
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "link is old" in html and "reader@example.com" not in html
    token = hidden_fields(html)["csrf_token"]
    for action in ("unsubscribe", "pause", "data-link"):
        assert client.post(old, data={"csrf_token": token, "action": action}).status_code == 410
    assert sub_of(db, pending).status == "confirmed" and not sub_of(db, pending).paused
    asked = client.post(old, data={"csrf_token": token, "action": "fresh-link"})
    assert asked.status_code == 200 and "preferences link" in asked.get_data(as_text=True)
    fresh = mailed_link(db, "links", "/preferences/")
    assert client.get(fresh).status_code == 200


def test_an_untimed_preferences_link_only_offers_fresh_links(client, db, settings, pending, now):
    from mailer.readers.tokens import URLSafeSerializer

    sub = confirmed(db, settings, pending, now)
    untimed = URLSafeSerializer(settings.secret_key, salt="mailer.preferences")
    path = f"/preferences/{untimed.dumps(links.subscriber_payload(sub.id, sub.token_nonce))}"
    page = client.get(path)
    assert page.status_code == 410 and "link is old" in page.get_data(as_text=True)


def rejoin_and_confirm(db, settings, sid, now):
    """The reader leaves, joins again and confirms: a new nonce."""
    subscriptions.unsubscribe(db, sid, "link", now)
    assert subscriptions.subscribe(db, settings, subscriptions.Signup("reader@example.com"), now)
    return confirmed(db, settings, sid, now)


def test_an_unsubscribe_link_works_for_the_set_days_then_offers_a_fresh_one(
    app, db, settings, pending, now
):
    """Hardening finding 6: a link from long ago no longer unsubscribes on its own."""
    sub = confirmed(db, settings, pending, now)
    days = settings.unsubscribe_link_days
    assert days >= 30
    recent = path_of(links.unsubscribe_url(settings, sub.id, sub.token_nonce, now - timedelta(59)))
    old = path_of(
        links.unsubscribe_url(settings, sub.id, sub.token_nonce, now - timedelta(days, 60))
    )
    sub = rejoin_and_confirm(db, settings, pending, now)
    client = app.test_client(use_cookies=False)
    # The old link: a page saying so, a one-click POST that changes nothing.
    page = client.get(old)
    assert page.status_code == 200 and "link is old" in page.get_data(as_text=True)
    one_click = client.post(old, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 410 and "days old" in one_click.get_data(as_text=True)
    assert client.post(old).status_code == 410
    assert sub_of(db, pending).status == "confirmed"
    # Its button mails fresh links to the stored address, and they work.
    asked = client.post(old, data={"action": "fresh-link"})
    assert asked.status_code == 200 and "fresh unsubscribe link" in asked.get_data(as_text=True)
    with db.session() as session:
        mail = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "links"))
    assert mail.recipient == "reader@example.com" and mail.subscriber_id == pending
    fresh = path_of(next(w for w in mail.text.split() if "/unsubscribe/" in w))
    assert "/preferences/" in mail.text
    assert sub_of(db, pending).status == "confirmed"
    # A link within the window still works, even from before the reader joined again.
    assert client.post(recent, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert sub_of(db, pending).status == "unsubscribed"
    assert client.get(fresh).status_code == 200


def test_fresh_link_mails_are_limited_per_reader(app, db, settings, pending, now):
    sub = confirmed(db, settings, pending, now)
    days = settings.unsubscribe_link_days
    old = path_of(
        links.unsubscribe_url(settings, sub.id, sub.token_nonce, now - timedelta(days + 1))
    )
    client = app.test_client(use_cookies=False)
    for _ in range(3):
        assert client.post(old, data={"action": "fresh-link"}).status_code == 200
    with db.session() as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert kinds.count("links") == 1  # one per ten minutes


def test_links_made_before_links_carried_a_time_work_until_the_nonce_changes(
    client, db, settings, pending, now
):
    from mailer.readers.tokens import URLSafeSerializer

    sub = confirmed(db, settings, pending, now)
    untimed = URLSafeSerializer(settings.secret_key, salt="mailer.unsubscribe")
    path = f"/unsubscribe/{untimed.dumps(links.subscriber_payload(sub.id, sub.token_nonce))}"
    assert "Press the button" in client.get(path).get_data(as_text=True)
    rejoin_and_confirm(db, settings, pending, now)
    assert "link is old" in client.get(path).get_data(as_text=True)
