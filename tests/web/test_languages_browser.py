"""The Join page in German in headless Chromium: the page's language, its labels, and a signup
that keeps the language the reader saw."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.core.models import Subscriber

pytestmark = pytest.mark.browser

SOLVED = "() => document.querySelector('input[name=altcha]')?.value.length > 20"


@pytest.fixture
def settings_overrides():
    return {"captcha": "altcha"}


def test_the_german_join_page_signs_up_a_german_reader(page, live_server, db):
    page.goto(f"{live_server.url}/join?lang=de")
    assert page.evaluate("() => document.documentElement.lang") == "de"
    assert page.title().startswith("The Weekly Digest abonnieren")
    page.get_by_label("E-Mail-Adresse").fill("leserin@example.com")
    page.get_by_label("Vorname").fill("Grete")
    page.locator("#consent").check()
    page.wait_for_function(SOLVED, timeout=20_000)  # the ALTCHA widget solved on focus
    page.get_by_role("button", name="Abonnieren").click()
    page.get_by_role("heading", name="Sehen Sie in Ihr Postfach").wait_for()
    with db.session() as session:
        reader = session.scalar(select(Subscriber).where(Subscriber.email == "leserin@example.com"))
    assert reader is not None and reader.language == "de"
