"""The Join page on a phone in headless Chromium: touch-sized consent box, every mistake at
once with the first focused, the solved CAPTCHA kept, and a reload that posts nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mailer.core.models import OutboxMessage, Subscriber
from mailer.services import build

pytestmark = pytest.mark.browser

SOLVED = "() => document.querySelector('input[name=altcha]')?.value.length > 20"


@pytest.fixture
def settings_overrides():
    return {"captcha": "altcha"}


@pytest.fixture
def services(settings):
    svc = build(settings)
    yield svc
    svc.close()


def counts(db) -> tuple[int, int]:
    with db.session() as session:
        subs = session.scalar(select(func.count()).select_from(Subscriber))
        mails = session.scalar(select(func.count()).select_from(OutboxMessage))
    return subs, mails


def test_the_consent_box_is_a_24px_target_on_a_phone(page, live_server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/join")
    box = page.locator("#consent").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390  # nothing sticks out sideways


def test_mistakes_at_once_captcha_kept_then_redirect_and_reload(page, live_server, db):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/join")
    page.get_by_label("Email address").fill("reader@@example")
    page.wait_for_function(SOLVED, timeout=20_000)  # the widget solved on focus
    page.get_by_role("button", name="Join").click()
    page.locator("#email-error").wait_for()
    assert page.evaluate("() => document.activeElement.id") == "email"
    assert page.locator("#consent").get_attribute("aria-invalid") == "true"
    assert page.get_by_text("You already passed the CAPTCHA").is_visible()
    assert page.locator("altcha-widget").count() == 0
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_label(re.compile("Yes, send me")).check()
    page.get_by_role("button", name="Join").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert page.url == f"{live_server.url}/join/sent"
    assert page.title().startswith("Check your inbox")
    page.reload()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert counts(db) == (1, 1)
