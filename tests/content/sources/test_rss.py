"""Ingesting real feeds served from a local HTTP server.

The feeds are the test fixtures of feed-rs/feed-rs (MIT licence, see
../shared/data/feeds/feed-rs/LICENSE-MIT), read from ../shared/data, never copied here.
"""

import pytest
from sqlalchemy import func, select

from mailer.content.sources.ingest import ingest_source
from mailer.core.models import Article, Source
from tests.fixtures.content import shared_data
from tests.fixtures.http import Response

FEEDS = shared_data() / "feeds" / "feed-rs"
FEED_NAMES = sorted(p.name for p in FEEDS.glob("*.xml"))
assert FEED_NAMES, f"no feeds in {FEEDS}"  # an empty list would skip, not fail
XML = {"Content-Type": "application/rss+xml; charset=utf-8"}


def serve(http_server, path, body, headers=None, etag=None):
    def answer(request):
        if etag and request.headers.get("If-None-Match") == etag:
            return Response(304, b"", {"ETag": etag})
        extra = {"ETag": etag} if etag else {}
        return Response(200, body, {**XML, **extra, **(headers or {})})

    http_server.route("GET", path, answer)
    return http_server.url + path


def articles(db):
    with db.session() as session:
        return {a.url: a for a in session.scalars(select(Article))}


@pytest.mark.parametrize("name", FEED_NAMES)
def test_each_real_feed_ingests(name, db, services, settings, now, http_server):
    url = serve(http_server, f"/{name}", (FEEDS / name).read_bytes())
    report = ingest_source(db, services.http, url, now, settings)
    assert report.error == "" and report.new >= 1, str(report)
    stored = list(articles(db).values())
    assert all(a.url.startswith("http") and "utm_" not in a.url for a in stored)
    assert all(a.published_at <= now for a in stored)


def test_images_authors_and_canonical_links(db, services, settings, now, http_server):
    for name in ("rss_2.0_wirecutter.xml", "atom_mediarss_newscred_1.xml", "rss_2.0_nbcny.xml"):
        url = serve(http_server, f"/{name}", (FEEDS / name).read_bytes())
        assert not ingest_source(db, services.http, url, now, settings).error
    stored = articles(db)
    newscred = stored["http://www.example.com/the-day-off-tampa"]
    assert newscred.image_url.endswith(".jpeg") and newscred.author == "Some author"
    wirecutter = next(a for a in stored.values() if "wirecutter" in a.url)
    assert wirecutter.image_url.startswith("https://cdn.thewirecutter.com/")
    assert wirecutter.author == "James Austin"
    nbc = next(a for a in stored.values() if "nbcnewyork" in a.url)
    assert "?" not in nbc.url or "utm" not in nbc.url
    assert nbc.author


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Daily</title><link>https://news.example.com/</link>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>https://news.example.com/{slug}?utm_source=rss&amp;id=1</link>
<guid>{slug}-guid</guid><pubDate>Tue, 24 Nov 2026 0{hour}:00:00 GMT</pubDate>
<description>{summary}</description><category>Local</category></item>"""


def feed(*items):
    return FEED.format(items="\n".join(ITEM.format(**i) for i in items)).encode()


def item(slug, title, hour=9, summary="Words about it."):
    return {"slug": slug, "title": title, "hour": hour, "summary": summary}


def test_second_fetch_adds_only_new_and_updates_edits_in_place(
    db, services, settings, now, http_server
):
    first = [item("a", "First story"), item("b", "Second story", 8), item("c", "Third", 7)]
    version = {"body": feed(*first)}
    http_server.route("GET", "/f.xml", lambda r: Response(200, version["body"], XML))
    url = http_server.url + "/f.xml"
    one = ingest_source(db, services.http, url, now, settings)
    assert (one.new, one.updated) == (3, 0)
    ids = {a.url: a.id for a in articles(db).values()}
    # new item, an edited title, and the rest re-ordered
    version["body"] = feed(
        item("c", "Third"),
        item("new", "A new story", 9),
        item("a", "First story, updated with the verdict"),
        item("b", "Second story", 8),
    )
    two = ingest_source(db, services.http, url, now, settings)
    assert (two.new, two.updated, two.unchanged) == (1, 1, 2)
    after = articles(db)
    assert after["https://news.example.com/a?id=1"].title == "First story, updated with the verdict"
    assert after["https://news.example.com/a?id=1"].id == ids["https://news.example.com/a?id=1"]
    assert len(after) == 4


def test_a_304_parses_nothing(db, services, settings, now, http_server):
    url = serve(http_server, "/e.xml", feed(item("a", "Story")), etag='"v1"')
    ingest_source(db, services.http, url, now, settings)
    again = ingest_source(db, services.http, url, now, settings)
    assert again.not_modified
    assert http_server.requests_to("/e.xml")[-1].headers["If-None-Match"] == '"v1"'


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<rss><channel><item><title>broken", "not a readable feed"),
        (b"<html><body>Not a feed</body></html>", "not"),
        (b"\xff\xfe\x00garbage\x00", "not"),
    ],
)
def test_bad_documents_fail_clearly_and_keep_what_was_stored(
    body, words, db, services, settings, now, http_server
):
    good = serve(http_server, "/good.xml", feed(item("kept", "Kept story")))
    ingest_source(db, services.http, good, now, settings)
    bad = serve(http_server, "/bad.xml", body)
    report = ingest_source(db, services.http, bad, now, settings)
    assert words in report.error
    assert "https://news.example.com/kept?id=1" in articles(db)
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.url == bad))
        assert source.consecutive_failures == 1 and source.last_error


def test_huge_responses_are_refused(db, services, settings, now, http_server):
    import dataclasses

    small = dataclasses.replace(settings, fetch_max_bytes=2048)
    url = serve(http_server, "/huge.xml", feed(*[item(f"s{i}", f"Story {i}") for i in range(80)]))
    report = ingest_source(db, services.http, url, now, small)
    assert "larger than" in report.error
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_script_in_titles_missing_dates_and_duplicate_guids(
    db, services, settings, now, http_server
):
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
    <item><title>&lt;script&gt;alert(1)&lt;/script&gt;Council &lt;b&gt;votes&lt;/b&gt;</title>
      <link>https://news.example.com/x</link><guid>dup</guid>
      <description>&lt;p&gt;Body&lt;img src="https://t.example/pixel.gif" width="1" height="1"&gt;
      &lt;a class="share-button" href="#"&gt;Share on X&lt;/a&gt;&lt;/p&gt;</description></item>
    <item><title>Second with same guid</title><link>https://news.example.com/y</link>
      <guid>dup</guid><pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate></item>
    </channel></rss>"""
    url = serve(http_server, "/odd.xml", body)
    report = ingest_source(db, services.http, url, now, settings)
    assert not report.error
    assert any("no date" in n for n in report.notes)
    stored = list(articles(db).values())
    assert len(stored) == 1  # the same guid twice is one article, updated in place
    only = stored[0]
    assert "<" not in only.title and "alert" not in only.title
    assert "pixel" not in only.summary and "Share" not in only.summary


def test_bidi_and_zero_width_characters_never_reach_the_archive(
    db, services, settings, now, http_server
):
    hidden = "&#x202E;&#x2066;&#x200B;&#xFEFF;&#x2060;&#x200F;"
    body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
    <item><title>Council{hidden} votes &#x202E;tegdub&#x202C; today</title>
      <link>https://news.example.com/bidi</link><guid>bidi</guid>
      <author>Ann{hidden} Lee</author><category>Lo&#x200B;cal</category>
      <pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate>
      <description>Late{hidden} into the night.</description></item>
    <item><title>&#x200B;&#x202E;</title><link>https://news.example.com/blank</link></item>
    </channel></rss>""".encode()
    url = serve(http_server, "/bidi.xml", body)
    report = ingest_source(db, services.http, url, now, settings)
    assert not report.error and report.new == 1  # a title of nothing visible is no title
    (stored,) = articles(db).values()
    assert stored.title == "Council votes tegdub today"
    assert stored.summary == "Late into the night."
    assert (stored.author, stored.section) == ("Ann Lee", "Local")
