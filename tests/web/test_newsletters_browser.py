"""Join with two newsletters in headless Chromium, confirm, then leave one by one-click."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import requests
from sqlalchemy import select

from mailer.core.models import ConsentEvent, Subscriber
from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn, transport_options
from mailer.readers import links, newsletters, subscriptions
from mailer.services import build
from tests.fixtures.readers import path_of, taken
from tests.web.test_accessibility_browser import audit

pytestmark = pytest.mark.browser
SOLVED = "() => document.querySelector('input[name=altcha]')?.value.length > 20"


@pytest.fixture
def moment(now):
    """The app's clock, moved on by the test where a person would take their time."""
    return [now]


@pytest.fixture
def services(settings, moment):
    svc = build(settings, clock=lambda: moment[0])
    yield svc
    svc.close()


def test_join_two_newsletters_then_one_click_leaves_one(
    page, live_server, db, settings, now, moment, tmp_path
):
    daily = newsletters.add(
        db, now, slug="daily", name="Daily Brief", description="Every morning", cadence="daily"
    )
    page.goto(f"{live_server.url}/join")
    default_box = page.get_by_role("checkbox", name="The Weekly Digest", exact=True)
    daily_box = page.get_by_role("checkbox", name=re.compile("Daily Brief"))
    assert default_box.is_checked() and not daily_box.is_checked()
    # none ticked is refused, with the group marked
    default_box.uncheck()
    page.get_by_label("Email address").fill("two.lists@example.com")
    page.get_by_label(re.compile("Yes, send me")).check()
    page.wait_for_function(SOLVED, timeout=20_000)  # the real ALTCHA widget did its work
    moment[0] = now + timedelta(seconds=10)  # a person takes longer than three seconds
    page.get_by_role("button", name="Join").click()
    page.get_by_text("Choose at least one newsletter.").wait_for()
    assert (
        page.locator("fieldset#newsletters").get_attribute("aria-describedby")
        == "newsletters-error"
    )
    assert audit(page, "Join with two newsletters, none ticked") == []
    page.get_by_role("checkbox", name="The Weekly Digest", exact=True).check()
    page.get_by_role("checkbox", name=re.compile("Daily Brief")).check()
    page.get_by_label(re.compile("Yes, send me")).check()
    moment[0] = now + timedelta(seconds=20)
    page.get_by_role("button", name="Join").click()
    page.wait_for_selector("text=Check your inbox")

    drain_outbox(
        db,
        settings,
        lambda: transport_from_dsn(settings.transport, transport_options(settings)),
        lambda: moment[0],
    )
    [sent] = sorted((tmp_path / "outbox").glob("*.eml"))
    mail = message_from_bytes(sent.read_bytes(), policy=policy.default)
    confirm = next(w for w in mail.get_body(("plain",)).get_content().split() if "/confirm/" in w)
    page.goto(live_server.url + path_of(confirm))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=You are subscribed")
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        signup = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "signup"))
    assert signup.detail["newsletters"] == ["weekly", "daily"]
    wording = subscriptions.consent_text(settings, several=True)
    assert signup.consent_text_hash == subscriptions.consent_hash(wording)
    assert taken(db, sub.id) == {"weekly": "active", "daily": "active"}
    prefs = links.preferences_url(settings, sub.id, sub.token_nonce, moment[0])
    page.goto(live_server.url + path_of(prefs))
    page.get_by_role("group", name=re.compile("Tick the newsletters")).wait_for()
    assert audit(page, "preferences with two newsletters") == []

    # The daily digest's List-Unsubscribe URL, POSTed as a mail client does (RFC 8058).
    url = links.unsubscribe_url(settings, sub.id, sub.token_nonce, now, newsletter_id=daily.id)
    response = requests.post(
        live_server.url + path_of(url),
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 200
    assert taken(db, sub.id) == {"weekly": "active", "daily": "unsubscribed"}
    with db.session() as session:
        assert session.get(Subscriber, sub.id).status == "confirmed"
