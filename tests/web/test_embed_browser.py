"""The embedded Join box inside another site's page, in headless Chromium at phone width: the
frame sizes itself to its content through embed-host.js, and fits without it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mailer.core.models import Subscriber
from mailer.services import build
from tests.fixtures.http import Response

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DOCUMENTED_HEIGHT = "40rem"  # the height docs/readers.md gives the iframe
SOLVED = "() => document.querySelector('input[name=altcha]')?.value.length > 20"


@pytest.fixture
def settings_overrides(http_server):
    return {"captcha": "altcha", "embed_origins": (http_server.url,)}


@pytest.fixture
def services(settings):
    """The real clock, as a reader in a browser has."""
    svc = build(settings)
    yield svc
    svc.close()


def article(ours: str, *, with_script: bool) -> Response:
    """A news site's article page with the snippet from docs/readers.md."""
    script = f'<script src="{ours}/static/js/embed-host.js" async></script>' if with_script else ""
    html = (
        "<!doctype html><html lang='en'><meta name='viewport' content='width=device-width'>"
        "<title>Story</title><body style='margin:0;padding:8px'><h1>A story</h1>"
        f'<iframe src="{ours}/embed/join" title="Join The Weekly Digest" loading="lazy" '
        f'style="width:100%;max-width:32rem;height:{DOCUMENTED_HEIGHT};border:0"></iframe>'
        f"{script}<p>The rest of the article.</p></body></html>"
    )
    return Response(200, html, headers={"Content-Type": "text/html; charset=utf-8"})


def frame_height(page) -> float:
    return page.eval_on_selector("iframe", "f => f.getBoundingClientRect().height")


def fits(page) -> bool:
    """The Join button lies wholly inside the iframe's box: nothing is cut off."""
    frame_box = page.locator("iframe").bounding_box()
    button = page.frame_locator("iframe").get_by_role("button", name="Join").bounding_box()
    return button["y"] + button["height"] <= frame_box["y"] + frame_box["height"] + 0.5


def open_article(page, live_server, http_server, *, with_script: bool):
    http_server.route("GET", "/story", lambda _: article(live_server.url, with_script=with_script))
    page.set_viewport_size(PHONE)
    page.goto(f"{http_server.url}/story")
    frame = page.frame_locator("iframe")
    frame.get_by_role("button", name="Join").wait_for()
    return frame


def test_the_frame_grows_with_the_errors_and_keeps_the_join_button(
    page, live_server, http_server, db
):
    frame = open_article(page, live_server, http_server, with_script=True)
    page.wait_for_function(
        "() => document.querySelector('iframe').style.height.endsWith('px')", timeout=10_000
    )
    before = frame_height(page)
    frame.get_by_label("Email address").fill("not an address")
    frame.get_by_label("First name").fill("Ann<b>")
    frame.get_by_role("button", name="Join").click()
    frame.locator("#email-error").wait_for()
    page.wait_for_function(f"() => document.querySelector('iframe').offsetHeight > {before}")
    after = frame_height(page)
    assert after > before
    for name in ("email", "first_name", "consent"):
        field = frame.locator(f"#{name}")
        assert field.get_attribute("aria-invalid") == "true"
        assert field.get_attribute("aria-describedby") == f"{name}-error"
    assert fits(page)
    assert frame.get_by_role("button", name="Join").is_visible()
    inner = frame.locator("html").evaluate("h => h.scrollHeight - window.innerHeight")
    assert inner <= 1  # the frame's page does not scroll inside the iframe
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_the_form_fits_the_documented_frame_without_the_script(page, live_server, http_server):
    frame = open_article(page, live_server, http_server, with_script=False)
    assert frame_height(page) == pytest.approx(640, abs=1)  # 40rem, untouched
    assert fits(page)
    frame.get_by_role("button", name="Join").click()  # every field empty: every error shown
    frame.locator("#consent-error").wait_for()
    assert fits(page)


def test_messages_from_another_origin_do_not_resize_the_frame(page, live_server, http_server):
    open_article(page, live_server, http_server, with_script=True)
    page.wait_for_function("() => document.querySelector('iframe').style.height.endsWith('px')")
    sized = frame_height(page)
    page.evaluate(
        "() => window.postMessage({type: 'mailer:embed-height', height: 3000}, '*')"
    )  # the host page itself, not our origin
    page.wait_for_timeout(300)
    assert frame_height(page) == sized


def test_a_signup_in_the_frame_lands_on_the_check_inbox_page(page, live_server, http_server, db):
    frame = open_article(page, live_server, http_server, with_script=True)
    frame.get_by_label("Email address").fill("embedded@example.com")
    frame.get_by_label(re.compile("Yes, send me")).check()
    embedded = next(f for f in page.frames if f != page.main_frame)
    embedded.wait_for_function(SOLVED, timeout=20_000)
    frame.get_by_role("button", name="Join").click()
    frame.get_by_text("Check your inbox").wait_for()
    assert embedded.url.endswith("/embed/join/sent")
    with db.session() as session:
        assert session.scalar(select(Subscriber.email)) == "embedded@example.com"
