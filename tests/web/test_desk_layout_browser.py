"""The desk in Chromium: no sideways scrolling on a phone, previews side by side on a wide
screen, moves applied in place without losing the story, and a dialog before removing."""

import pytest

from mailer.content.demo import load_demo
from mailer.editions import digests
from mailer.editions.accounts import add_editor
from tests.fixtures.editors import FAST_COST

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(page, live_server, db, settings, now):
    load_demo(db, now, settings.zone)
    digest_id = digests.build_digest(db, settings, now).digest_id
    with db.session() as session:
        add_editor(session, "ed@example.com", "a long password", "editor", now, cost=FAST_COST)
    page.goto(f"{live_server.url}/admin/login")
    page.get_by_label("Email").fill("ed@example.com")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Sign in").click()
    return digest_id


def _width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_no_page_is_wider_than_a_phone(page, live_server, desk):
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/admin/", "/admin/digests/", f"/admin/digests/{desk}"):
        page.goto(live_server.url + path)
        assert _width(page) <= 390, path
    page.once("dialog", lambda dialog: dialog.dismiss())  # the confirm page, as without script
    page.evaluate("document.querySelector('form[data-confirm]').removeAttribute('data-confirm')")
    page.get_by_role("button", name="Approve…").click()
    assert page.get_by_role("heading", name="Approve this issue for sending?").is_visible()
    assert _width(page) <= 390


def test_previews_sit_side_by_side_on_a_wide_screen(page, live_server, desk):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/digests/{desk}")
    desktop = page.locator("iframe[title='Desktop preview']").bounding_box()
    phone = page.locator("iframe[title='Phone preview']").bounding_box()
    assert desktop["y"] == phone["y"] and phone["x"] >= desktop["x"] + desktop["width"]
    assert (round(desktop["width"]), round(phone["width"])) == (642, 377)  # with their borders
    assert _width(page) <= 1280


def test_a_move_happens_in_place_and_keeps_the_story_in_view(page, live_server, db, desk):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/digests/{desk}")
    third = sorted(digests.find_digest(db, desk).items, key=lambda i: i.position)[2]
    story = page.locator(f"#story-{third.id}")
    top = story.bounding_box()["y"]
    page.evaluate(f"window.scrollBy(0, {top} - 400)")  # the story mid-screen
    page.evaluate("window.sameDocument = true")
    before = story.bounding_box()["y"]
    story.get_by_role("button", name="Move up").click()
    page.get_by_text("Done: up.").wait_for()
    assert page.evaluate("window.sameDocument === true")  # no reload
    assert abs(page.locator(f"#story-{third.id}").bounding_box()["y"] - before) <= 2
    after = sorted(digests.find_digest(db, desk).items, key=lambda i: i.position)
    assert after[1].id == third.id
    assert page.locator("li.story").nth(1).get_attribute("id") == f"story-{third.id}"


def test_remove_asks_first_and_a_no_keeps_the_story(page, live_server, db, desk):
    page.goto(f"{live_server.url}/admin/digests/{desk}")
    count = len(digests.find_digest(db, desk).items)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("li.story").nth(1).get_by_role("button", name="Remove…").click()
    assert asked == ["Remove this story from the issue?"]
    assert len(digests.find_digest(db, desk).items) == count
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("li.story").nth(1).get_by_role("button", name="Remove…").click()
    page.get_by_text("Done: exclude.").wait_for()
    assert len(digests.find_digest(db, desk).items) == count - 1
