"""An article is found by any link to it: the link its feed gave, which ingest canonicalised
before storing (a backslash in the path, utm_* or track=rss dropped, an escaped slash), by the
CLI, the desk and the evaluation alike."""

import json

import pytest
from sqlalchemy import select

from mailer.content.articles import find_article
from mailer.content.sources.ingest import ingest_source
from mailer.core.models import Article, RelatedJudgment
from mailer.editions import digests
from mailer.editions.accounts import add_editor
from tests.fixtures.editors import FAST_COST, PASSWORD, signed_in, token
from tests.fixtures.http import Response

# The links as the feed writes them, and where ingest stores each
LINKS = {
    "backslash": "https://News.Example.com/2026\\11\\harbour-ferry-contract",
    "utm": "https://news.example.com/harbour-vote?utm_source=rss&utm_medium=feed&id=4",
    "track": "https://news.example.com/harbour-budget?track=rss",
    "escaped slash": "https://news.example.com/news%2Fharbour-report",
}
STORED = {
    "backslash": "https://news.example.com/2026/11/harbour-ferry-contract",
    "utm": "https://news.example.com/harbour-vote?id=4",
    "track": "https://news.example.com/harbour-budget",
    "escaped slash": "https://news.example.com/news/harbour-report",
}
TITLES = {
    "backslash": "Harbour ferry contract goes to Okafor's rival",
    "utm": "Council vote on the harbour ferry contract delayed",
    "track": "Harbour budget leaves the ferry contract unfunded",
    "escaped slash": "Report: harbour ferry contract cost doubled",
}


def feed() -> bytes:
    items = "".join(
        f"<item><title>{TITLES[kind]}</title><link>{link.replace('&', '&amp;')}</link>"
        f"<guid>{kind}</guid><pubDate>Tue, 24 Nov 2026 0{n}:00:00 GMT</pubDate>"
        "<description>Councillor Ada Okafor and the harbour ferry contract.</description>"
        "</item>"
        for n, (kind, link) in enumerate(LINKS.items(), 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Harbour</title><link>https://news.example.com/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def editor(db, now):
    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)


@pytest.fixture
def ingested(db, services, settings, now, http_server):
    def answer(request):
        return Response(200, feed(), {"Content-Type": "application/rss+xml"})

    http_server.route("GET", "/harbour.xml", answer)
    url = http_server.url + "/harbour.xml"
    report = ingest_source(db, services.source_http, url, now, settings)
    assert not report.error and report.new == len(LINKS), str(report)
    with db.session() as session:
        return {a.url: a.id for a in session.scalars(select(Article))}


def test_ingest_stores_each_link_canonicalised(ingested):
    assert set(ingested) == set(STORED.values())


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_an_article_is_found_by_the_link_its_feed_gave(kind, db, ingested):
    with db.session() as session:
        for reference in (LINKS[kind], STORED[kind], f" {LINKS[kind]}#comments "):
            found = find_article(session, reference)
            assert found is not None and found.url == STORED[kind], reference
        assert find_article(session, str(ingested[STORED[kind]])).url == STORED[kind]


def test_what_is_no_stored_article_stays_none(db, ingested):
    with db.session() as session:
        for reference in ("https://news.example.com/other", "", "   ", "http://[::1", "x" * 3000):
            assert find_article(session, reference) is None


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_articles_related_takes_the_feed_s_link(kind, cli, ingested):
    result = cli("articles", "related", LINKS[kind], "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["article"]["id"] == ingested[STORED[kind]]
    # the other three pieces on the same contract are its related coverage, each with why
    assert data["related"] and all("Okafor" in r["names"] for r in data["related"])
    assert all(r["reason"].startswith("Both name") for r in data["related"])


def test_articles_related_says_clearly_when_no_link_matches(cli, ingested):
    missing = cli("articles", "related", "https://news.example.com/harbour-vote?id=5")
    assert missing.exit_code == 1 and "no stored article" in missing.stderr


def test_the_desk_adds_a_story_and_a_related_piece_by_the_feed_s_link(
    client, db, settings, now, editor, ingested
):
    from mailer.content.demo import load_demo

    load_demo(db, now, settings.zone)
    digest_id = digests.build_digest(db, settings, now).digest_id
    html = signed_in(client).get(f"/admin/digests/{digest_id}").get_data(as_text=True)
    assert 'name="article"' in html  # the add-a-story form
    done = client.post(
        f"/admin/digests/{digest_id}/act",
        data={"action": "add_story", "article": LINKS["backslash"], "csrf_token": token(html)},
        follow_redirects=True,
    )
    assert "Done: add story." in done.get_data(as_text=True)
    digest = digests.find_digest(db, digest_id)
    story = next(i for i in digest.items if i.url == STORED["backslash"])
    client.post(
        f"/admin/digests/{digest_id}/act",
        data={
            "action": "add_related",
            "item": story.id,
            "article": LINKS["escaped slash"],
            "csrf_token": token(html),
        },
    )
    story = next(i for i in digests.find_digest(db, digest_id).items if i.id == story.id)
    assert STORED["escaped slash"] in [r.url for r in story.related]
    with db.session() as session:  # the editor's choice is kept as a judgment
        judged = session.scalars(select(RelatedJudgment)).all()
        assert [(j.story_id, j.related_id, j.grade) for j in judged] == [
            (ingested[STORED["backslash"]], ingested[STORED["escaped slash"]], 1)
        ]
    unknown = client.post(
        f"/admin/digests/{digest_id}/act",
        data={
            "action": "add_story",
            "article": "https://nowhere.example/x",
            "csrf_token": token(html),
        },
        follow_redirects=True,
    )
    assert "no stored article https://nowhere.example/x" in unknown.get_data(as_text=True)
