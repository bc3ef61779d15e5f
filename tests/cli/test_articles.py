import json

from sqlalchemy import select

from mailer.core.models import ArticleStats
from tests.fixtures.http import Response

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
<item><title>One</title><link>https://news.example.com/one</link><guid>1</guid>
<pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate></item></channel></rss>"""


def test_import_articles_and_stats(cli, db, tmp_path):
    articles = tmp_path / "a.jsonl"
    articles.write_text(
        '{"url": "https://news.example.com/x?utm_source=a", "title": "X marks", '
        '"published_at": "2026-11-24T10:00:00Z", "section": "Local", "tags": "a, b"}\n'
        "not json\n"
        '{"url": "ftp://nope", "title": "Bad", "published_at": "2026-11-24"}\n'
    )
    result = cli("articles", "import", str(articles))
    assert result.exit_code == 0
    assert "1 articles stored" in result.output
    assert "line 2: skipped: not valid JSON" in result.output
    assert "line 3: skipped: url is missing" in result.output
    stats = tmp_path / "s.csv"
    stats.write_text(
        "url,views,shares,clicks\nhttps://news.example.com/x,1200,5,40\nhttps://nope.example/,3,,\n"
    )
    result = cli("articles", "stats", "import", str(stats))
    assert "1 updated" in result.output and "line 3: skipped: no stored article" in result.output
    listed = json.loads(cli("articles", "list", "--json").output)
    assert listed[0]["views"] == 1200 and listed[0]["url"] == "https://news.example.com/x"
    with db.session() as session:
        figures = session.scalars(select(ArticleStats)).one()
        assert (figures.views, figures.shares, figures.clicks) == (1200, 5, 40)


def test_ingest_and_sources_list(cli, http_server):
    http_server.route(
        "GET", "/feed.xml", lambda r: Response(200, FEED, {"Content-Type": "application/rss+xml"})
    )
    url = http_server.url + "/feed.xml"
    assert cli("sources", "add", url).exit_code == 0
    result = cli("articles", "ingest")
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    health = json.loads(cli("sources", "list", "--json").output)
    assert health[0]["consecutive_failures"] == 0 and health[0]["last_success_at"]
    broken = cli("articles", "ingest", http_server.url + "/missing.xml")
    assert broken.exit_code == 1 and "HTTP 404" in broken.output
    assert cli("sources", "add", "ftp://x").exit_code == 2
