"""Rendering: parse what a subscriber gets and check the rules, not a byte-for-byte golden file.

Real headlines and excerpts from the HuffPost "News Category Dataset" sample (R. Misra,
CC BY 4.0) in ../shared/data make the size check honest."""

import json
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from mailer.content.demo import load_demo
from mailer.core.config import Settings
from mailer.core.models import Digest, DigestItem, DigestRelated
from mailer.editions import digests
from mailer.editions.render import (
    MAX_HTML_BYTES,
    PLACEHOLDERS,
    RenderedDigest,
    check_size,
    marker,
    render_digest,
    web_issue,
    with_utm,
)
from tests.fixtures.content import shared_data

SETTINGS = Settings.from_env(
    {},
    instance_dir="/tmp/mailer-render-test",
    secret_key="render-test-secret-key-long-enough-0123456789abcdef",
    base_url="https://mail.example.com",
)
PUBLISHED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


class Page(HTMLParser):
    """Every tag's attributes, by tag name."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.tags if tag == name]


def huffpost(count: int) -> list[dict]:
    path = shared_data() / "huffpost-news-category-sample.jsonl"
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(count * 4), handle, strict=False)]
    # the longest headlines and excerpts: the heaviest issue real data makes
    return sorted(rows, key=lambda r: -len(r["headline"] + r["short_description"]))[:count]


def make_digest(stories: int = 10, related: int = 3, **item_overrides) -> Digest:
    rows = huffpost(stories * (related + 1))
    digest = Digest(
        period_key="2026-W48",
        subject="The Weekly Digest: news & views",
        preheader="Also: the week's other stories",
        intro="A short note from the desk.",
        items=[],
    )
    for n in range(stories):
        row = rows[n]
        values = {
            "position": n,
            "title": row["headline"],
            "url": row["link"] + "?utm_source=twitter&ref=home",
            "excerpt": row["short_description"],
            "author": row["authors"] or None,
            "section": row["category"].title(),
            "image_url": f"https://img.huffpost.com/{n}.jpg",
            "image_alt": f"Photo for story {n}",
            "published_at": PUBLISHED,
        }
        values.update(item_overrides if n == 1 else {})
        item = DigestItem(**values, related=[])
        for r in range(related):
            rel = rows[stories + n * related + r]
            item.related.append(
                DigestRelated(
                    position=r,
                    title=rel["headline"],
                    url=rel["link"],
                    context=f"In {rel['category'].title()}",
                    published_at=PUBLISHED - timedelta(days=r + 1),
                )
            )
        digest.items.append(item)
    return digest


def personalised(rendered):
    return rendered.personalise(
        {
            "unsubscribe_url": "https://mail.example.com/unsubscribe/TOKEN",
            "preferences_url": "https://mail.example.com/preferences/TOKEN",
            "first_name": "Ada <b>",
            "greeting": "Hello Ada <b>,",
        }
    )


def test_a_full_issue_fits_the_size_budget_and_keeps_every_rule():
    rendered = render_digest(make_digest(10, 3), SETTINGS)
    size = len(rendered.html.encode())
    assert size < MAX_HTML_BYTES, size
    subject, text, html = personalised(rendered)
    assert "%%" not in html and "%%" not in text and "%%" not in subject
    page = Page(html)
    images = page.all("img")
    assert len(images) == 10  # the lead's image and nine thumbnails
    assert all(img.get("alt") for img in images)
    links = [a["href"] for a in page.all("a")]
    assert len(links) >= 10 + 30 + 3
    assert all(urlsplit(href).scheme in ("http", "https") for href in links)
    assert "https://mail.example.com/archive/2026-W48" in links  # view in browser
    assert "https://mail.example.com/unsubscribe/TOKEN" in links
    assert "https://mail.example.com/preferences/TOKEN" in links
    words = " ".join(page.text)
    assert "Unsubscribe" in words and "preferences" in words and "View in browser" in words
    assert "Hello Ada <b>," in words  # escaped in the HTML, so it reads as text
    assert "Hello Ada &lt;b&gt;," in html
    assert "Also: the week&#39;s other stories" in html or "Also: the week's other stories" in html
    metas = {m.get("name"): m.get("content") for m in page.all("meta")}
    assert metas["color-scheme"] == "light dark"
    assert any(t.get("width") == "600" for t in page.all("table"))
    assert "prefers-color-scheme: dark" in html  # @media survives inlining
    assert 'style="' in html and ".headline {" not in html  # rules are inlined
    assert "Related coverage" in words and "In " in words


def test_utm_tags_go_on_the_sites_links_only_and_replace_existing_ones():
    digest = make_digest(2, 1)
    digest.items[0].related[0].url = "https://other-paper.example.org/story?utm_source=x"
    html = render_digest(digest, SETTINGS).html
    hrefs = [a["href"] for a in Page(html).all("a")]
    story = next(h for h in hrefs if "huffpost.com/entry" in h)
    query = parse_qs(urlsplit(story).query)
    assert query["utm_source"] == ["newsletter"] and query["utm_medium"] == ["email"]
    assert query["utm_campaign"] == ["digest-2026-W48"]
    assert query["ref"] == ["home"]  # other parameters are kept
    other = next(h for h in hrefs if "other-paper" in h)
    assert other == "https://other-paper.example.org/story?utm_source=x"
    assert all("utm_" not in h for h in hrefs if h.startswith("https://mail.example.com"))


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "data:text/html,hi", "ftp://x.example/a", "//no-scheme"]
)
def test_only_http_links_survive(bad):
    digest = make_digest(3, 1, url=bad, image_url=bad)
    rendered = render_digest(digest, SETTINGS)
    _subject, text, html = personalised(rendered)
    page = Page(html)
    for attrs in page.all("a") + page.all("img"):
        target = attrs.get("href") or attrs.get("src")
        assert urlsplit(target).scheme in ("http", "https"), target
    assert bad not in html and bad not in text
    assert digest.items[1].title.split()[0] in html  # the story is still shown, unlinked


def test_markup_in_titles_is_shown_as_text_and_text_part_is_plain():
    digest = make_digest(3, 1, title="<script>alert('x')</script> Rovers & Co", excerpt="a < b")
    rendered = render_digest(digest, SETTINGS)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>alert('x')</script> Rovers & Co" in rendered.text
    assert rendered.subject == "The Weekly Digest: news & views"  # not HTML-escaped


def test_the_text_part_has_every_story_link_and_the_personal_links():
    digest = make_digest(4, 2)
    _subject, text, _html = personalised(render_digest(digest, SETTINGS))
    for item in digest.items:
        assert item.title in text
        for rel in item.related:
            assert rel.title in text
    assert "Unsubscribe with one click: https://mail.example.com/unsubscribe/TOKEN" in text
    assert "Hello Ada <b>," in text
    assert "<a " not in text


def test_rendering_is_once_and_personalising_is_substitution():
    rendered = render_digest(make_digest(3, 1), SETTINGS)
    for name in ("unsubscribe_url", "preferences_url"):
        key = marker(name, rendered.nonce)
        assert key in rendered.html and key in rendered.text
    assert set(PLACEHOLDERS) >= {"unsubscribe_url", "preferences_url", "first_name"}
    one = rendered.personalise({"unsubscribe_url": "https://a.example/1"})
    two = rendered.personalise({"unsubscribe_url": "https://a.example/2"})
    assert one[2].replace("https://a.example/1", "X") == two[2].replace("https://a.example/2", "X")
    again = render_digest(make_digest(3, 1), SETTINGS)
    assert again.nonce != rendered.nonce  # each render marks its places afresh
    assert again.personalise({}) == rendered.personalise({})  # and says the same


def test_only_this_renders_markers_are_personalised():
    digest = make_digest(2, 1)
    planted = marker("preferences_url", "0" * 32)  # a guess at another render's marker
    digest.items[0].title = f"Budget %%PREFERENCES_URL%% %%GREETING%% {planted}"
    digest.items[0].excerpt = "%%UNSUBSCRIBE_URL%% and %%FIRST_NAME%%"
    digest.subject = "Week: %%FIRST_NAME%% %%PREFERENCES_URL%%"
    rendered = render_digest(digest, SETTINGS)
    subject, text, html = personalised(rendered)
    assert subject == "Week: %%FIRST_NAME%% %%PREFERENCES_URL%%"
    for part in (text, unescape(html)):  # as a reader's mail client shows the HTML
        assert "Budget %%PREFERENCES_URL%% %%GREETING%%" in part and planted in part
        assert "%%UNSUBSCRIBE_URL%% and %%FIRST_NAME%%" in part
        assert part.count("/preferences/TOKEN") == 1 and part.count("/unsubscribe/TOKEN") == 1


def test_the_subject_of_an_older_digest_loses_invisible_characters():
    digest = make_digest(2, 1)
    digest.subject = "Week \u202eof\u202c news\u200b"  # stored before editing stripped them
    assert render_digest(digest, SETTINGS).subject == "Week of news"


def test_a_rendered_digest_needs_an_unguessable_nonce():
    with pytest.raises(ValueError, match="nonce"):
        RenderedDigest("s", "p", "<p>x</p>", "x", nonce="")
    with pytest.raises(ValueError, match="nonce"):
        RenderedDigest("s", "p", "<p>x</p>", "x", nonce="short")


def test_the_web_version_has_no_greeting_and_no_personal_or_tracked_links():
    issue = web_issue(make_digest(3, 1), SETTINGS)
    flat = json.dumps(issue)
    assert "%%" not in flat and "Hello" not in flat
    links = [s["link"] for s in issue["stories"]] + [
        r["link"] for s in issue["stories"] for r in s["related"]
    ]
    assert links and not any("unsubscribe" in h or "preferences" in h or "/r/" in h for h in links)
    assert issue["web_url"] == "https://mail.example.com/archive/2026-W48"


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "a":
            self.links.append(attrs.get("href", ""))


@pytest.fixture
def digest(db, settings, now):
    load_demo(db, now, settings.zone)
    built = digests.build_digest(db, settings, now)
    return digests.find_digest(db, built.digest_id)


def parse(html):
    collector = Collector()
    collector.feed(html)
    return collector


def test_rendered_html_follows_the_email_rules(digest, settings):
    rendered = render_digest(digest, settings)
    page = parse(rendered.html)
    assert page.images and all(img.get("alt") for img in page.images)
    assert all(link.startswith(("http://", "https://", "%%")) for link in page.links)
    assert 'width="600"' in rendered.html
    assert "color-scheme" in rendered.html
    assert "<style" not in rendered.html.split("<body", 1)[1]  # CSS inlined into the body
    assert rendered.preheader and rendered.preheader in rendered.html
    unsubscribe = marker("unsubscribe_url", rendered.nonce)
    assert unsubscribe in rendered.html and unsubscribe in rendered.text
    assert f"/archive/{digest.period_key}" in rendered.html
    assert len(rendered.html.encode()) < MAX_HTML_BYTES


def test_personalise_substitutes_and_escapes(digest, settings):
    rendered = render_digest(digest, settings)
    _subject, text, html = rendered.personalise(
        {
            "unsubscribe_url": "https://x.example/u/T?a=1&b=2",
            "preferences_url": "https://x/p",
            "greeting": "Hello <Ann>,",
            "first_name": "Ann",
        }
    )
    assert "%%" not in text and "%%" not in html
    assert "https://x.example/u/T?a=1&amp;b=2" in html
    assert "https://x.example/u/T?a=1&b=2" in text
    assert "Hello &lt;Ann&gt;," in html and "Hello <Ann>," in text


def test_only_the_sites_links_get_utm_and_old_utm_is_replaced():
    own = frozenset({"news.example.com"})
    tagged = with_utm("https://news.example.com/a?utm_source=rss&x=1", "digest-2026-W48", own)
    assert "utm_source=newsletter" in tagged and "utm_source=rss" not in tagged and "x=1" in tagged
    assert with_utm("https://other.example.org/a", "c", own) == "https://other.example.org/a"


def test_unsafe_links_do_not_survive(db, settings, now, digest):
    with db.session() as session:
        item = session.merge(digest.items[0])
        item.url = "javascript:alert(1)"
        item.title = "<script>alert(1)</script>"
    fresh = digests.find_digest(db, digest.id)
    rendered = render_digest(fresh, settings)
    assert "javascript:" not in rendered.html
    assert "<script>alert" not in rendered.html
    assert "&lt;script&gt;" in rendered.html


def test_oversized_digest_is_refused(db, settings, now, digest):
    with db.session() as session:
        for item in digest.items:
            session.merge(item).excerpt = "word " * 5000
    with pytest.raises(Exception, match="KB of HTML"):
        check_size(digests.find_digest(db, digest.id), settings)
