from html.parser import HTMLParser

import pytest

from mailer.content.demo import load_demo
from mailer.editions import digests
from mailer.editions.render import (
    MAX_HTML_BYTES,
    check_size,
    marker,
    render_digest,
    render_web,
    with_utm,
)


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
    assert marker("unsubscribe_url") in rendered.html and marker("unsubscribe_url") in rendered.text
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


def test_web_version_has_no_personal_links(digest, settings):
    html = render_web(digest, settings)
    assert "%%" not in html
    assert "/unsubscribe/" not in html and "/preferences/" not in html
    assert "/join" in html


def test_oversized_digest_is_refused(db, settings, now, digest):
    with db.session() as session:
        for item in digest.items:
            session.merge(item).excerpt = "word " * 5000
    with pytest.raises(Exception, match="KB of HTML"):
        check_size(digests.find_digest(db, digest.id), settings)
