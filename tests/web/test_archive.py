"""The public archive: issues as pages of the site, a list with titles and dates, an Atom feed,
and sharing tags; every title and link in them comes from feeds, so hostile ones are tried."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import feedparser
import pytest

from mailer.core.models import Digest, DigestItem
from mailer.editions import digests

BASE = "https://letters.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "Rates <script>alert(1)</script> & \"quotes\" 'too' ]]> \x0b</title>"
SHOWN = HOSTILE.replace("\x0b", "")  # a control character is never text


@pytest.fixture
def settings_overrides():
    return {"base_url": BASE}


class Tags(HTMLParser):
    """Start tags with their attributes, and the text inside each h1."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.h1: list[str] = []
        self._in_h1 = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h1 = self._in_h1 or tag == "h1"
        if tag == "h1":
            self.h1.append("")

    def handle_endtag(self, tag):
        self._in_h1 = self._in_h1 and tag != "h1"

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data

    def meta(self) -> dict:
        return {
            (a.get("property") or a.get("name")): a.get("content")
            for t, a in self.tags
            if t == "meta" and (a.get("property") or a.get("name"))
        }

    def all(self, name: str) -> list[dict]:
        return [a for t, a in self.tags if t == name]


def our_feed(data: bytes) -> ET.Element:
    """Parse the feed this app wrote (no entity tricks in it: ElementTree wrote it)."""
    return ET.fromstring(data)  # noqa: S314


def send(db, digest_id: int, now, subject: str | None = None) -> Digest:
    """Mark a built digest as sent, as the engine leaves it."""
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        digest.status, digest.sent_at = "sent", now
        if subject is not None:
            digest.subject = subject
    return digests.find_digest(db, digest_id)


def test_an_issue_is_a_page_of_the_site_with_a_title_date_and_main_landmark(client, db, now, draft):
    digest = send(db, draft, now)
    page = client.get(f"/archive/{digest.period_key}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "public, max-age=300"
    html = page.get_data(as_text=True)
    tags = Tags(html)
    assert [t for t, _ in tags.tags].count("main") == 1 and "header" in [t for t, _ in tags.tags]
    assert len(tags.h1) == 1
    assert digest.subject in unescape(tags.h1[0]) and "Wednesday 25 November 2026" in tags.h1[0]
    assert "Hello" not in html and "View in browser" not in html
    assert not re.search(r"/(unsubscribe|preferences|r)/", html) and "%%" not in html
    for item in digest.items:
        assert unescape(html).count(item.title) >= 1
    assert "Related coverage" in html
    assert f'href="{BASE}/join"' in html or 'href="/join"' in html


def test_sharing_tags_describe_the_issue_with_absolute_links(client, db, now, draft):
    digest = send(db, draft, now)
    tags = Tags(client.get(f"/archive/{digest.period_key}").get_data(as_text=True))
    meta = tags.meta()
    assert meta["og:title"] == digest.subject and meta["og:type"] == "article"
    assert meta["og:url"] == f"{BASE}/archive/{digest.period_key}"
    assert meta["description"] == meta["og:description"] and len(meta["description"]) <= 200
    assert meta["description"] == digest.preheader
    assert meta["og:image"].startswith(f"{BASE}/demo/images/")  # the lead's picture
    assert meta["og:site_name"] == "The Daily Example"
    links = {a["rel"]: a for a in tags.all("link")}
    assert links["canonical"]["href"] == meta["og:url"]
    assert links["alternate"] == {
        "rel": "alternate",
        "type": "application/atom+xml",
        "title": "The Weekly Digest (Atom)",
        "href": f"{BASE}/archive.atom",
    }


def test_the_list_shows_each_issues_title_and_date_newest_first(client, db, now, draft):
    send(db, draft, now, subject="The week the libraries were saved")
    with db.session() as session:
        older = Digest(
            period_key="2026-W40",
            status="sent",
            subject="An older issue",
            preheader="Also: the fair",
            created_at=now - timedelta(days=60),
            updated_at=now - timedelta(days=60),
            sent_at=now - timedelta(days=58),
        )
        session.add(older)
        session.add(
            Digest(
                period_key="2026-W49",
                status="draft",
                subject="Not sent yet",
                created_at=now,
                updated_at=now,
            )
        )
    html = client.get("/archive").get_data(as_text=True)
    assert html.index("The week the libraries were saved") < html.index("An older issue")
    assert "Wednesday 25 November 2026" in html and "Monday 28 September 2026" in html
    assert "Not sent yet" not in html
    assert '<a href="/archive/2026-W40">An older issue</a>' in html
    tags = Tags(html)
    assert any(a.get("type") == "application/atom+xml" for a in tags.all("link"))
    assert tags.meta()["og:url"] == f"{BASE}/archive" and len(tags.h1) == 1


def test_the_feed_is_valid_atom_with_absolute_links(client, db, now, draft):
    digest = send(db, draft, now)
    response = client.get("/archive.atom")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = our_feed(response.data)  # well-formed XML
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    assert root.findtext(f"{ATOM}updated") == "2026-11-25T12:00:00Z"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": f"{BASE}/archive.atom", "alternate": f"{BASE}/archive"}
    (entry,) = root.findall(f"{ATOM}entry")
    for name in ("id", "title", "updated", "published", "summary", "content"):
        assert entry.findtext(f"{ATOM}{name}"), name
    assert entry.findtext(f"{ATOM}id") == f"{BASE}/archive/{digest.period_key}"
    assert entry.find(f"{ATOM}link").get("href") == f"{BASE}/archive/{digest.period_key}"
    content = entry.findtext(f"{ATOM}content")
    assert entry.find(f"{ATOM}content").get("type") == "html"
    hrefs = re.findall(r'(?:href|src)="([^"]+)"', content)
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo and parsed.version == "atom10"
    assert parsed.entries[0].title == digest.subject


def test_an_empty_archive_has_a_valid_feed_and_a_plain_list(client):
    root = our_feed(client.get("/archive.atom").data)
    assert root.findall(f"{ATOM}entry") == [] and root.findtext(f"{ATOM}updated")
    assert "No issue has been sent yet." in client.get("/archive").get_data(as_text=True)


def test_hostile_titles_and_links_stay_text_in_the_pages_and_the_feed(client, db, now, draft):
    with db.session() as session:
        item = session.query(DigestItem).filter_by(digest_id=draft, position=0).one()
        item.title = HOSTILE
        item.url = "javascript:alert(1)"
        item.image_url = "javascript:alert(2)"
        item.excerpt = "<img src=x onerror=alert(3)> & more"
        session.get(Digest, draft).preheader = '"><script>alert(4)</script>'
    digest = send(db, draft, now, subject=HOSTILE)
    pages = [
        client.get(f"/archive/{digest.period_key}").get_data(as_text=True),
        client.get("/archive").get_data(as_text=True),
    ]
    for html in pages:
        assert "<script>" not in html and "javascript:" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    meta = Tags(pages[0]).meta()
    assert meta["og:title"] == SHOWN and meta["description"] == '"><script>alert(4)</script>'
    assert "og:image" not in meta

    body = client.get("/archive.atom").data
    root = our_feed(body)  # still well-formed: the vertical tab is gone, the rest escaped
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == SHOWN
    content = entry.findtext(f"{ATOM}content")  # the HTML a feed reader shows
    assert "<script>" not in content and "javascript:" not in content
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(3)&gt;" in content
    assert b"<script>" not in body and b"\x0b" not in body
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.entries[0].title == SHOWN


def test_drafts_and_unknown_issues_are_not_in_the_archive(client, db, draft):
    period = digests.find_digest(db, draft).period_key
    assert client.get(f"/archive/{period}").status_code == 404
    assert client.get("/archive/2019-W99").status_code == 404
    assert client.get("/archive/<script>").status_code == 404
    assert b"<entry>" not in client.get("/archive.atom").data
