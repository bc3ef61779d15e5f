"""A feed cannot reach into a reader's personal links: marker-shaped text in a story stays text.

The path is the real one: a local RSS feed ingested, the week's digest built and approved, sent
over SMTP to a local sink, and the same issue seen on the desk and in the web archive.
"""

import html as html_lib
import re

import pytest
from sqlalchemy import select

from mailer.content.sources.ingest import ingest_source
from mailer.core.models import Digest, Subscriber
from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn
from mailer.editions import digests, lifecycle
from mailer.editions.accounts import add_editor
from mailer.services import system_clock
from tests.fixtures.editors import FAST_COST
from tests.fixtures.mailing import add_subscribers, send_now

MARKERS = ("%%UNSUBSCRIBE_URL%%", "%%PREFERENCES_URL%%", "%%FIRST_NAME%%", "%%GREETING%%")
# what providers fill with the reader's own links: Postmark, Mailgun, SendGrid, SES
PROVIDERS = (
    "{{{ pm:unsubscribe }}}",
    "%unsubscribe_url%",
    "%recipient.email%",
    "<%asm_global_unsubscribe_raw_url%>",
    "{{amazonSESUnsubscribeUrl}}",
)
ALL = " ".join(MARKERS + PROVIDERS)
IMAGE = (
    "https://img.example.net/p.gif?who=%%PREFERENCES_URL%%&u=%%UNSUBSCRIBE_URL%%"
    "&pm={{{ pm:unsubscribe }}}&mg=%unsubscribe_url%"
)
PASSWORD = "a long password"

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>Hostile</title><link>https://news.example.com/</link>
{items}
</channel></rss>"""
ITEM = """<item><title>Council budget vote {n} {all}</title>
<link>https://news.example.com/council-budget-{n}</link><guid>council-{n}</guid>
<pubDate>Tue, 24 Nov 2026 0{n}:00:00 GMT</pubDate><category>{section}</category>
<media:content url="{image}" medium="image"/>
<description>The council budget vote {n} went late into the night. {all}</description></item>"""


def hostile_feed() -> bytes:
    items = [
        ITEM.format(
            n=n,
            all=html_lib.escape(ALL),
            section=("Local", "Politics", "City", "Money")[n % 4],
            image=html_lib.escape(IMAGE),
        )
        for n in range(1, 6)
    ]
    return FEED.format(items="\n".join(items)).encode()


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0, "retry_base_seconds": 0.05}


@pytest.fixture
def hostile_digest(db, services, settings, now, http_server):
    """The week's digest built from a feed whose every story carries the four markers."""
    http_server.route(
        "GET",
        "/hostile.xml",
        lambda request: _ok(hostile_feed()),
    )
    report = ingest_source(
        db, services.source_http, http_server.url + "/hostile.xml", now, settings
    )
    assert report.error == "" and report.new == 5, str(report)
    built = digests.build_digest(db, settings, now)
    assert built.digest_id, built.message
    return built.digest_id


def _ok(body: bytes):
    from tests.fixtures.http import Response

    return Response(200, body, {"Content-Type": "application/rss+xml; charset=utf-8"})


def assert_literal_markers(part: str) -> None:
    """Each marker is there as text (in HTML, as a reader's browser shows it)."""
    shown = html_lib.unescape(part)
    for marker in MARKERS:
        assert marker in shown, f"{marker} is gone from {part[:300]!r}"


def assert_subject_as_built(db, digest_id: int, subject: str) -> None:
    """The subject (the headline cut to 70 characters) keeps the markers in it as text."""
    stored = digests.find_digest(db, digest_id).subject
    assert subject == stored and "%%UNSUBSCRIBE_URL%% %%PREFERENCES_URL%%" in subject


def assert_no_provider_placeholder(source: str) -> None:
    """The HTML as handed to a provider spells none of them; a browser still shows them all."""
    for placeholder in PROVIDERS:
        assert placeholder not in source and html_lib.escape(placeholder) not in source
        assert placeholder in html_lib.unescape(source)


def personal_links(part: str) -> list[str]:
    return re.findall(r"/(?:preferences|unsubscribe)/[\w.\-]+", part)


def test_each_reader_gets_the_markers_as_text_and_their_links_only_in_the_footer(
    db, settings, now, hostile_digest, smtp_server
):
    lifecycle.approve(db, settings, hostile_digest, "editor@example.com", now)
    add_subscribers(db, now, 3)
    report = send_now(db, settings, hostile_digest)
    assert report.done and report.sent == 3
    with db.session() as session:
        names = dict(session.execute(select(Subscriber.email, Subscriber.first_name)).all())
    for received in smtp_server.messages:
        msg = received.message
        name = names[received.rcpt_tos[0]]
        subject = str(msg["Subject"])
        text = msg.get_body(("plain",)).get_content()
        body = msg.get_body(("html",)).get_content()
        assert_subject_as_built(db, hostile_digest, subject)
        assert_literal_markers(text)
        assert_literal_markers(body)
        assert_no_provider_placeholder(body)
        assert name not in subject and not personal_links(subject)
        assert text.count(name) == 1 and body.count(name) == 1  # the greeting, nothing else
        # the footer's two links, once each; never inside a story, an image or a link
        assert len(personal_links(text)) == 2, personal_links(text)
        assert len(personal_links(body)) == 2, personal_links(body)
        images = re.findall(r'<img[^>]*src="([^"]*)"', body)
        assert images and all("%%PREFERENCES_URL%%" in html_lib.unescape(s) for s in images)
        assert all(IMAGE in html_lib.unescape(s) for s in images)  # the same address, fetched
        header_token = re.search(r"/unsubscribe/([\w.\-]+)", msg["List-Unsubscribe"]).group(1)
        assert header_token in body and header_token in text
        assert msg["List-Unsubscribe"].count("<") == 1


def test_the_desk_preview_test_send_and_archive_show_the_markers_as_text(
    client, db, settings, now, hostile_digest, smtp_server
):
    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)
    login = client.get("/admin/login").get_data(as_text=True)
    client.post(
        "/admin/login",
        data={"email": "ed@example.com", "password": PASSWORD, "csrf_token": _csrf(login)},
    )
    page = client.get(f"/admin/digests/{hostile_digest}").get_data(as_text=True)
    assert_literal_markers(html_lib.unescape(page))
    preview = client.get(f"/admin/digests/{hostile_digest}/preview.html").get_data(as_text=True)
    assert_literal_markers(preview)
    assert_no_provider_placeholder(preview)
    assert len(personal_links(preview)) == 2

    client.post(
        f"/admin/digests/{hostile_digest}/test",
        data={"addresses": "desk@example.com", "csrf_token": _csrf(page)},
    )
    drain_outbox(db, settings, lambda: transport_from_dsn(settings.transport), system_clock)
    (sent,) = smtp_server.messages
    assert_subject_as_built(
        db, hostile_digest, str(sent.message["Subject"]).removeprefix("[TEST] ")
    )
    assert_literal_markers(sent.message.get_body(("plain",)).get_content())
    test_html = sent.message.get_body(("html",)).get_content()
    assert_literal_markers(test_html)
    assert_no_provider_placeholder(test_html)
    assert len(personal_links(test_html)) == 2

    with db.session() as session:
        session.get(Digest, hostile_digest).status = "sent"
    issue = client.get(f"/archive/{digests.find_digest(db, hostile_digest).period_key}")
    assert issue.status_code == 200
    archived = issue.get_data(as_text=True)
    assert_literal_markers(archived)
    assert not personal_links(archived)


def _csrf(page: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)
