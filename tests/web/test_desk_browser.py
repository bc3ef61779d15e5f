"""An editor in headless Chromium: log in, preview, reorder, send a test, approve."""

import pytest

from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn
from mailer.editions import digests
from mailer.editions.accounts import add_editor
from mailer.services import system_clock
from tests.fixtures.editors import FAST_COST

pytestmark = pytest.mark.browser


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn()}


def test_editor_previews_reorders_tests_and_approves(
    page, live_server, db, settings, now, smtp_server
):
    from mailer.content.demo import load_demo

    load_demo(db, now, settings.zone)
    digest_id = digests.build_digest(db, settings, now).digest_id
    with db.session() as session:
        add_editor(session, "ed@example.com", "a long password", "editor", now, cost=FAST_COST)

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Email").fill("ed@example.com")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Digests").click()
    page.get_by_role("link", name="2026-W48").click()

    frame = page.frame_locator("iframe[title='Desktop preview']")
    assert frame.get_by_text("Related coverage").first.is_visible()
    first_title = page.locator("li.story strong").first.inner_text()
    page.locator("li.story").first.get_by_role("button", name="Move down").click()
    page.get_by_text("Done: down.").wait_for()  # applied in place by desk.js
    assert page.locator("li.story strong").nth(1).inner_text() == first_title

    page.get_by_label("Addresses").fill("desk@example.com")
    page.get_by_role("button", name="Send test").click()
    assert "Test queued for desk@example.com" in page.content()
    drain_outbox(db, settings, lambda: transport_from_dsn(settings.transport), system_clock)
    test = smtp_server.messages[-1].message
    assert test["To"] == "desk@example.com"
    body = test.get_body(("plain",)).get_content()
    assert body.index(first_title) > body.index("2. ")  # the reorder is in the test mail

    page.once("dialog", lambda dialog: dialog.accept())  # desk.js asks before approving
    page.get_by_role("button", name="Approve…").click()
    assert page.get_by_role("button", name="Send now…").is_visible()
    assert digests.find_digest(db, digest_id).status == "approved"
