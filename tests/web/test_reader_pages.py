"""What the reader sees on the pages mail links open: status in words, the way back after
leaving, a destructive erase with its error beside it, and stale links explained."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.core.models import OutboxMessage, Subscriber
from mailer.readers import links, subscriptions
from tests.conftest import FIXED_NOW
from tests.fixtures.readers import hidden_fields, path_of


@pytest.fixture
def settings_overrides():
    return {"captcha": "none"}


@pytest.fixture
def reader(db, settings, now) -> int:
    """A reader called Ann who joined and confirmed yesterday."""
    day = now - timedelta(days=1)
    signup = subscriptions.Signup("reader@example.com", first_name="Ann")
    sid = subscriptions.subscribe(db, settings, signup, day).subscriber_id
    token = links.confirm_url(settings, sid, current(db, sid).token_nonce, day).rsplit("/", 1)[1]
    assert subscriptions.confirm(db, settings, token, None, day).result == "done"
    return sid


def current(db, sid) -> Subscriber:
    with db.session() as session:
        return session.get(Subscriber, sid)


def prefs_path(db, settings, sid) -> str:
    """A link as a mail sent at the tests' fixed time carries it."""
    nonce = current(db, sid).token_nonce
    return path_of(links.preferences_url(settings, sid, nonce, FIXED_NOW))


def mails(db, kind: str) -> int:
    with db.session() as session:
        return len(
            list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == kind)))
        )


def post(client, path, **data):
    token = hidden_fields(client.get(path).get_data(as_text=True)).get("csrf_token", "")
    return client.post(path, data={"csrf_token": token, **data})


def test_preferences_name_the_address_and_say_the_status_in_words(client, db, settings, reader):
    html = client.get(prefs_path(db, settings, reader)).get_data(as_text=True)
    assert "For <strong>reader@example.com</strong>" in html
    assert f"You are subscribed: {settings.list_name} comes {settings.list_frequency}." in html
    post(client, prefs_path(db, settings, reader), action="pause")
    html = client.get(prefs_path(db, settings, reader)).get_data(as_text=True)
    assert "mail is paused: nothing comes until you resume it" in html


def test_after_unsubscribing_the_way_back_goes_through_a_confirmation_mail(
    client, db, settings, reader
):
    path = prefs_path(db, settings, reader)
    left = post(client, path, action="unsubscribe")
    html = left.get_data(as_text=True)
    assert "You are unsubscribed: no mail comes." in html and 'value="resubscribe"' in html
    before = mails(db, "confirm")
    back = post(client, path, action="resubscribe")
    assert back.status_code == 200
    assert "We sent a confirmation link" in back.get_data(as_text=True)
    assert current(db, reader).status == "unsubscribed"  # nothing changes until they confirm
    assert mails(db, "confirm") == before + 1
    again = post(client, path, action="resubscribe")
    assert "a few minutes ago" in again.get_data(as_text=True)
    assert mails(db, "confirm") == before + 1  # the confirmation limits hold


def test_the_unsubscribe_page_offers_the_way_back_too(client, db, settings, reader, now):
    path = path_of(links.unsubscribe_url(settings, reader, current(db, reader).token_nonce, now))
    done = client.post(path)
    html = done.get_data(as_text=True)
    assert "<title>You are unsubscribed" in html and 'value="resubscribe"' in html
    before = mails(db, "confirm")
    back = client.post(path, data={"action": "resubscribe"})
    assert "We sent a confirmation link" in back.get_data(as_text=True)
    assert current(db, reader).status == "unsubscribed"
    assert mails(db, "confirm") == before + 1


def test_forget_me_is_marked_destructive_and_its_error_sits_beside_it(client, db, settings, reader):
    path = path_of(links.data_url(settings, reader, current(db, reader).token_nonce, FIXED_NOW))
    html = client.get(path).get_data(as_text=True)
    assert '<section class="danger-zone" aria-labelledby="forget-heading">' in html
    refused = post(client, path, action="forget")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    danger = html[html.index('class="danger-zone"') :]
    assert 'id="forget-error"' in danger and "Tick the box" in danger
    assert 'aria-invalid="true" aria-describedby="forget-error"' in danger
    assert 'class="notice"' not in html
    assert current(db, reader).status == "confirmed"


def test_a_superseded_preferences_link_says_what_happened(client, db, settings, reader, now):
    old = prefs_path(db, settings, reader)
    subscriptions.unsubscribe(db, reader, "link", now)
    subscriptions.subscribe(db, settings, subscriptions.Signup("reader@example.com"), now)
    nonce = current(db, reader).token_nonce
    token = links.confirm_url(settings, reader, nonce, now).rsplit("/", 1)[1]
    assert subscriptions.confirm(db, settings, token, None, now).result == "done"
    page = client.get(old)
    html = page.get_data(as_text=True)
    assert page.status_code == 410
    assert "came in an older mail" in html and "copied incompletely" not in html
    assert "reader@example.com" not in html  # an old link opens no personal data
    before = mails(db, "links")
    asked = post(client, old, action="fresh-link")
    assert asked.status_code == 200 and "Check your inbox" in asked.get_data(as_text=True)
    assert mails(db, "links") == before + 1
    assert client.get(prefs_path(db, settings, reader)).status_code == 200


def test_a_cut_short_link_is_still_called_incomplete(client, db, settings, reader):
    cut = prefs_path(db, settings, reader)[:-6]
    page = client.get(cut)
    assert page.status_code == 404
    assert "copied incompletely" in page.get_data(as_text=True)


def test_the_confirmed_page_has_its_title_and_a_next_step(client, db, settings, now):
    signup = subscriptions.Signup("new@example.com")
    sid = subscriptions.subscribe(db, settings, signup, now).subscriber_id
    path = path_of(links.confirm_url(settings, sid, current(db, sid).token_nonce, now))
    ready = client.get(path).get_data(as_text=True)
    assert "<title>Confirm your subscription" in ready
    done = client.post(path, data=hidden_fields(ready)).get_data(as_text=True)
    assert "<title>You are subscribed" in done
    assert f"Add {links.sender_address(settings)} to your contacts" in done
    assert 'href="/archive"' in done


def test_favicon_is_ours_and_linked(client):
    html = client.get("/join").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        assert icon.get_data(as_text=True).startswith("<svg")


@pytest.mark.parametrize(
    "settings_overrides", [{"captcha": "none", "signup_rate_limits": "2/minute"}]
)
def test_asking_to_come_back_counts_against_the_signup_limit(client, db, settings, reader):
    path = prefs_path(db, settings, reader)
    for _ in range(3):  # saving a name is not a signup: never limited
        assert post(client, path, action="save", first_name="Ann").status_code == 200
    post(client, path, action="unsubscribe")
    assert post(client, path, action="resubscribe").status_code == 200
    assert post(client, path, action="resubscribe").status_code == 200
    assert post(client, path, action="resubscribe").status_code == 429
    assert mails(db, "confirm") == 2  # the day-old one and one new: the mail limits hold too
