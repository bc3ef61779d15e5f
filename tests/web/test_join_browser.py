"""The reader's whole journey in headless Chromium, and the embed inside another site's page."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
import requests
from sqlalchemy import select

from mailer.core.models import ConsentEvent, Subscriber
from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn, transport_options
from mailer.readers import links
from mailer.services import build, system_clock
from tests.fixtures.http import FakeHttpServer, Response
from tests.fixtures.readers import path_of

pytestmark = pytest.mark.browser


@pytest.fixture
def settings_overrides(http_server):
    return {"captcha": "altcha", "embed_origins": (http_server.url,)}


@pytest.fixture
def services(settings):
    """The real clock: the form's three-second rule and link ages run in real time here."""
    svc = build(settings)
    yield svc
    svc.close()


SOLVED = "() => document.querySelector('input[name=altcha]')?.value.length > 20"


def delivered_mail(db, settings, outbox_dir):
    """Let the delivery engine send the queued confirmation through the file transport."""
    report = drain_outbox(
        db,
        settings,
        lambda: transport_from_dsn(settings.transport, transport_options(settings)),
        system_clock,
    )
    files = sorted(outbox_dir.glob("*.eml"))
    assert len(files) == 1, report
    return message_from_bytes(files[0].read_bytes(), policy=policy.default)


def test_join_confirm_and_one_click_unsubscribe(page, live_server, db, settings, tmp_path):
    page.goto(f"{live_server.url}/join")
    page.get_by_label("Email address").fill("browser.reader@example.com")
    page.get_by_label("First name").fill("Ann")
    page.get_by_label(re.compile("Yes, send me")).check()
    page.wait_for_function(SOLVED, timeout=20_000)  # the real ALTCHA widget did its work
    page.wait_for_timeout(3200)  # a person takes longer than three seconds
    page.get_by_role("button", name="Join").click()
    page.wait_for_selector("text=Check your inbox")

    mail = delivered_mail(db, settings, tmp_path / "outbox")
    assert mail["To"] == "browser.reader@example.com"
    assert "Ann" not in mail.as_string()
    text = mail.get_body(("plain",)).get_content()
    confirm = next(word for word in text.split() if "/confirm/" in word)

    page.goto(live_server.url + path_of(confirm))
    with db.session() as session:
        assert session.scalar(select(Subscriber.status)) == "pending"  # opening changes nothing
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=You are subscribed")
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        signup = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "signup"))
    assert sub.status == "confirmed"
    assert (signup.captcha_provider, signup.captcha_result) == ("altcha", "ok")

    # The digest's List-Unsubscribe URL, POSTed the way a mail client does: no cookie, no token.
    unsubscribe = links.unsubscribe_url(settings, sub.id, sub.token_nonce)
    response = requests.post(
        live_server.url + path_of(unsubscribe),
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 200
    with db.session() as session:
        assert session.scalar(select(Subscriber.status)) == "unsubscribed"
        kinds = list(session.scalars(select(ConsentEvent.kind).order_by(ConsentEvent.id)))
    assert kinds == ["signup", "confirm", "withdraw"]


def article_page(embed_url: str) -> Response:
    html = (
        "<!doctype html><title>Story</title><h1>A story</h1>"
        f'<iframe src="{embed_url}" title="Newsletter" width="400" height="600"></iframe>'
    )
    return Response(200, html, headers={"Content-Type": "text/html; charset=utf-8"})


def test_embed_renders_and_subscribes_inside_another_origins_page(
    page, live_server, http_server, db
):
    http_server.route("GET", "/story", lambda _: article_page(f"{live_server.url}/embed/join"))
    page.goto(f"{http_server.url}/story")
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name=re.compile("Join")).wait_for()
    frame.get_by_label("Email address").fill("embedded@example.com")
    frame.get_by_label(re.compile("Yes, send me")).check()
    frame.locator("input[name=altcha]").wait_for(state="attached")
    embedded = next(f for f in page.frames if f != page.main_frame)
    embedded.wait_for_function(SOLVED, timeout=20_000)
    page.wait_for_timeout(3200)
    frame.get_by_role("button", name="Join").click()
    frame.get_by_text("Check your inbox").wait_for()
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        event = session.scalar(select(ConsentEvent))
    assert (sub.email, sub.origin) == ("embedded@example.com", "embed")
    assert event.origin.startswith(http_server.url)  # the article page, from the signed stamp


def test_embed_is_refused_inside_a_site_not_allowed(page, live_server, db):
    other = FakeHttpServer()
    try:
        other.route("GET", "/story", lambda _: article_page(f"{live_server.url}/embed/join"))
        page.goto(f"{other.url}/story")
        page.wait_for_timeout(1500)
        embedded = [f for f in page.frames if f != page.main_frame]
        assert embedded, "the iframe element should exist"
        contents = "".join(f.content() for f in embedded)
        assert "Join" not in contents and "email" not in contents.lower()
    finally:
        other.close()
