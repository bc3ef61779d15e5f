"""axe-core in headless Chromium on every reader page, every desk page and the digest mail, in
light and dark colour schemes, on a phone (390 px) and a desktop (1280 px); any violation fails."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from mailer.content.demo import load_demo
from mailer.core.db import upgrade
from mailer.core.models import Subscriber
from mailer.delivery.samples import sample_message
from mailer.editions import digests, lifecycle, specials
from mailer.editions.accounts import add_editor
from mailer.readers import links
from mailer.services import build
from tests.conftest import FIXED_NOW, make_settings
from tests.fixtures.browser import LiveServer
from tests.fixtures.editors import FAST_COST, PASSWORD
from tests.fixtures.mailing import add_subscribers, send_now

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCHEMES = ("light", "dark")
WIDTHS = (390, 1280)
PHONE = 390
EDITOR = "ed@example.com"
_emails = itertools.count()


class Site:
    """One server for the module, with a draft, a sent issue, readers to click through and an
    editor signed in; every page test only navigates."""

    def __init__(self, services, server: LiveServer, draft_id: int, sent_id: int) -> None:
        self.services, self.server = services, server
        self.draft_id, self.sent_id = draft_id, sent_id

    @property
    def settings(self):
        return self.services.settings

    def url(self, path: str) -> str:
        return self.server.url + path

    def reader(self, status: str = "confirmed") -> tuple[int, str]:
        """A fresh reader (id, token nonce): pages that change state get one each."""
        domain = f"a11y{next(_emails)}.example.com"
        add_subscribers(self.services.db, FIXED_NOW, 1, domain=domain, status=status)
        with self.services.db.session() as session:
            found = select(Subscriber.id, Subscriber.token_nonce).where(
                Subscriber.email.endswith("@" + domain)
            )
            sid, nonce = session.execute(found).one()
        return sid, nonce

    def path(self, url: str) -> str:
        """Our links carry the configured base URL; the browser visits the live server."""
        return url.removeprefix(self.settings.base_url.rstrip("/"))

    def first_item_id(self) -> int:
        digest = digests.find_digest(self.services.db, self.draft_id)
        return sorted(digest.items, key=lambda i: i.position)[0].id

    def mail_html(self) -> str:
        """The digest's HTML part exactly as a reader gets it (the desk's preview message)."""
        digest = digests.find_digest(self.services.db, self.draft_id)
        return sample_message(digest, self.settings).html


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a11y")
    settings = make_settings(
        tmp, f"sqlite:///{tmp / 'mailer.db'}", signup_rate_limits="1000/minute"
    )
    services = build(settings, clock=lambda: FIXED_NOW)
    upgrade(services.db)
    db = services.db
    load_demo(db, FIXED_NOW, settings.zone)
    last_week = FIXED_NOW - timedelta(days=7)
    sent_id = digests.build_digest(db, settings, last_week).digest_id
    lifecycle.approve(db, settings, sent_id, EDITOR, last_week)
    add_subscribers(db, FIXED_NOW, 3)
    send_now(db, settings, sent_id)
    draft_id = digests.build_digest(db, settings, FIXED_NOW).digest_id
    with db.session() as session:
        add_editor(session, EDITOR, PASSWORD, "editor", FIXED_NOW, cost=FAST_COST)

    special = specials.create_special(
        db, settings, FIXED_NOW, "Comet special", EDITOR, breaking=draft_item_article(db, draft_id)
    )
    server = LiveServer(create_app(services=services))
    site = Site(services, server, draft_id, sent_id)
    site.special_id = special.id
    yield site
    server.close()
    services.close()


def draft_item_article(db, digest_id: int) -> int:
    return digests.find_digest(db, digest_id).items[0].article_id


@pytest.fixture(scope="module")
def tab(browser, site):
    """One tab for the module, signed in to the desk; it never leaves this machine."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run make install (it runs npm install)")
    browser.clear_cookies()
    page = browser.new_page()
    page.route("**/*", _local_only)
    page.goto(site.url("/admin/login"))
    page.get_by_label("Email").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url("/admin/"))
    yield page
    page.close()


def _local_only(route) -> None:
    """The demo's images and any other host are refused at once instead of timing out."""
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "about:", "data:")):
        route.continue_()
    else:
        route.abort()


def submit(page, button: str, **fields: str) -> None:
    """Fill fields by name and press a button, past the browser's own checks, as a hurried
    person or a script would: the server's answer is the page under test."""
    page.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    for name, value in fields.items():
        page.locator(f"[name={name}]").first.fill(value)
    with page.expect_navigation():
        page.get_by_role("button", name=button).first.click()


# Each page under test: how to reach it from a signed-in tab.
def _join_errors(page, site):
    page.goto(site.url("/join"))
    submit(page, "Join", email="not an address")


def _embed_errors(page, site):
    page.goto(site.url("/embed/join"))
    submit(page, "Join", email="not an address")


def _confirm(page, site, state):
    sid, nonce = site.reader("pending")
    issued = FIXED_NOW - timedelta(days=30) if state in ("expired", "check-inbox") else FIXED_NOW
    page.goto(site.url(site.path(links.confirm_url(site.settings, sid, nonce, issued, "Ann"))))
    if state == "done":
        submit(page, "Confirm")
    elif state == "check-inbox":
        submit(page, "Send me a fresh link")


def _preferences(page, site, button=None, issued=FIXED_NOW):
    sid, nonce = site.reader()
    page.goto(site.url(site.path(links.preferences_url(site.settings, sid, nonce, issued))))
    if button:
        submit(page, button)


def _my_data(page, site, forget=None):
    """The mailed one-hour data link; `forget` presses Forget me, ticked or not."""
    sid, nonce = site.reader()
    page.goto(site.url(site.path(links.data_url(site.settings, sid, nonce, FIXED_NOW))))
    if forget is not None:
        page.locator("[name=confirm_forget]").set_checked(forget)
        submit(page, "Forget me")


def _unsubscribe(page, site, state):
    sid, nonce = site.reader()
    issued = FIXED_NOW - timedelta(days=400) if state == "old" else FIXED_NOW
    page.goto(site.url(site.path(links.unsubscribe_url(site.settings, sid, nonce, issued))))
    if state == "done":
        submit(page, "Unsubscribe")


def _login_error(page, site):
    """A failed sign-in leaves the tab's own session as it was."""
    page.goto(site.url("/admin/login"))
    submit(page, "Sign in", email=EDITOR, password="not the password")


def _sent_period(site) -> str:
    return digests.find_digest(site.services.db, site.sent_id).period_key


def _goto(path):
    return lambda page, site: page.goto(site.url(path(site) if callable(path) else path))


# Each page: how to reach it, and words its h1 must show (so a flow that went astray, to an
# error page say, fails rather than checking the wrong page).
READER_PAGES = {
    "home": (_goto("/"), "Weekly Digest"),
    "join": (_goto("/join"), "Join"),
    "join-errors": (_join_errors, "Join"),
    "embed-join": (_goto("/embed/join"), "Join"),
    "embed-join-errors": (_embed_errors, "Join"),
    "confirm": (lambda page, site: _confirm(page, site, "ready"), "Confirm"),
    "confirm-done": (lambda page, site: _confirm(page, site, "done"), "You are subscribed"),
    "confirm-expired": (lambda page, site: _confirm(page, site, "expired"), "expired"),
    "check-inbox": (lambda page, site: _confirm(page, site, "check-inbox"), "Check your inbox"),
    "preferences": (_preferences, "preferences"),
    "preferences-paused": (
        lambda page, site: _preferences(page, site, "Pause mail"),
        "preferences",
    ),
    "preferences-data-link-sent": (
        lambda page, site: _preferences(page, site, "Mail me a link to my data"),
        "preferences",
    ),
    "preferences-old-link": (
        lambda page, site: _preferences(page, site, issued=FIXED_NOW - timedelta(days=400)),
        "old",
    ),
    "my-data": (_my_data, "Your data"),
    "my-data-forget-unticked": (lambda page, site: _my_data(page, site, False), "Your data"),
    "unsubscribe": (lambda page, site: _unsubscribe(page, site, "ask"), "Unsubscribe"),
    "unsubscribe-done": (lambda page, site: _unsubscribe(page, site, "done"), "unsubscribed"),
    "unsubscribe-old-link": (lambda page, site: _unsubscribe(page, site, "old"), "old"),
    "erased": (lambda page, site: _my_data(page, site, True), "erased"),
    "archive": (_goto("/archive"), "Past issues"),
    "archive-issue": (_goto(lambda site: f"/archive/{_sent_period(site)}"), "Weekly Digest"),
    "error-not-found": (_goto("/no-such-page"), "Not Found"),
    "error-bad-link": (_goto("/confirm/not-a-token"), "not valid"),
    "join-de": (_goto("/join?lang=de"), "abonnieren"),  # axe checks <html lang> follows it
    "archive-issue-de": (
        _goto(lambda site: f"/archive/{_sent_period(site)}?lang=de"),
        "Weekly Digest",
    ),
}
DESK_PAGES = {
    "desk-login": (_goto("/admin/login"), "Sign in"),
    "desk-login-error": (_login_error, "Sign in"),
    "desk-dashboard": (_goto("/admin/"), "Dashboard"),
    "desk-digests": (_goto("/admin/digests/"), "Digests"),
    "desk-digest-draft": (_goto(lambda site: f"/admin/digests/{site.draft_id}"), "W48"),
    "desk-digest-sent-clicks": (_goto(lambda site: f"/admin/digests/{site.sent_id}"), "W47"),
    "desk-suggest": (
        _goto(lambda site: f"/admin/digests/{site.draft_id}/suggest/{site.first_item_id()}"),
        "Related coverage",
    ),
    "desk-articles": (_goto("/admin/articles"), "Articles"),
    "desk-specials": (_goto("/admin/specials/"), "Special editions"),
    "desk-special": (_goto(lambda site: f"/admin/digests/{site.special_id}"), "S2026"),
    "desk-sources": (_goto("/admin/sources"), "Sources"),
    "desk-segments": (_goto("/admin/segments"), "Segments"),
    "desk-sunset": (_goto("/admin/sunset"), "Sunsetting"),
}
MAIL_PAGES = {
    "digest-mail": (lambda page, site: page.set_content(site.mail_html()), "Weekly Digest")
}
PAGES = {**READER_PAGES, **DESK_PAGES, **MAIL_PAGES}


# A mail is shown inside a mail client's own page, which has the landmarks; in the message
# itself every other rule applies (the web version in the archive gets all of them).
MAIL_RULES_OFF = ("landmark-one-main", "region")


def reach(page, site, name: str) -> None:
    """Open the page, and make sure it is the one meant."""
    go, heading = PAGES[name]
    go(page, site)
    shown = page.locator("h1").first.inner_text()
    assert heading.lower() in shown.lower(), f"{name}: the page says {shown!r}"


def axe_violations(page, rules_off: tuple[str, ...] = ()) -> list[dict]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated, so no page CSP stops it
    options = {"resultTypes": ["violations"], "rules": {r: {"enabled": False} for r in rules_off}}
    return page.evaluate("o => axe.run(document, o).then(r => r.violations)", options)


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} nodes]")
        for node in v["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary[:240]}")
    return "\n".join(lines)


def audit(page, name: str, rules_off: tuple[str, ...] = ()) -> list[str]:
    """Every width and scheme of the page as loaded: layout and colours follow the viewport and
    the emulated preference at once, so one load serves four runs."""
    failures = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            violations = axe_violations(page, rules_off)
            if violations:
                failures.append(f"{name} ({scheme}, {width} px):\n{describe(violations)}")
    return failures


@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_accessibility_violations(tab, site, name):
    tab.set_viewport_size({"width": WIDTHS[0], "height": 900})
    reach(tab, site, name)
    failures = audit(tab, name, MAIL_RULES_OFF if name in MAIL_PAGES else ())
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_a_phone_without_sideways_scrolling(tab, site, name):
    tab.set_viewport_size({"width": PHONE, "height": 900})
    tab.emulate_media(color_scheme="light")
    reach(tab, site, name)
    width = tab.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE, f"{name} is {width} px wide on a {PHONE} px phone"
