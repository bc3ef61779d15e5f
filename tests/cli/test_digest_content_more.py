"""`mailer digest build|list|show|preview` and `mailer articles related`, as operators run them."""

import email
import json
from datetime import timedelta
from email import policy
from html.parser import HTMLParser

import pytest

from mailer.content.demo import load_demo
from mailer.editions.previews import preview_digest_id
from tests.fixtures.content import article


@pytest.fixture
def demo(db, now, settings):
    load_demo(db, now, settings.zone)


def test_demo_then_build_makes_this_weeks_digest(cli, demo):
    result = cli("digest", "build")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2026-W48 created: 5 stories")
    again = cli("digest", "build")
    assert (again.exit_code, again.stdout) == (0, "2026-W48 exists already (draft).\n")
    rebuilt = cli("digest", "build", "--rebuild")
    assert rebuilt.exit_code == 0 and "rebuilt" in rebuilt.stdout


def test_build_says_why_when_a_week_is_too_thin(cli, store_articles, now):
    store_articles([article(1, now - timedelta(hours=3))])
    result = cli("digest", "build")
    assert result.exit_code == 1
    assert "has 1 articles; at least 3 are needed" in result.stderr
    bad = cli("digest", "build", "--period", "2026-W60")
    assert bad.exit_code == 2 and "not a week of 2026" in bad.stderr
    past = cli("digest", "build", "--period", "2019-W04")
    assert past.exit_code == 1 and "2019-W04 has 0 articles" in past.stderr


def test_list_and_show(cli, demo):
    cli("digest", "build")
    listed = cli("digest", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["period_key"] == "2026-W48" and row["status"] == "draft"
    shown = cli("digest", "show", "2026-W48", "--json")
    data = json.loads(shown.stdout)
    assert len(data["stories"]) == 5
    assert all(r["context"].startswith("In ") for s in data["stories"] for r in s["related"])
    table = cli("digest", "show", str(data["id"]))
    assert table.exit_code == 0
    for story in data["stories"]:
        assert story["title"] in table.stdout
    missing = cli("digest", "show", "2030-W01")
    assert missing.exit_code == 1 and "no digest 2030-W01" in missing.stderr


class Links(HTMLParser):
    def __init__(self, document):
        super().__init__()
        self.hrefs = []
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def test_preview_writes_what_a_subscriber_gets(cli, demo, tmp_path, settings, now):
    cli("digest", "build")
    html = cli("digest", "preview", "2026-W48", "--format", "html")
    assert html.exit_code == 0
    hrefs = Links(html.stdout).hrefs
    assert any(h.startswith(f"{settings.base_url}/unsubscribe/") for h in hrefs)
    assert "%%" not in html.stdout and "Hello Sam," in html.stdout
    # "View in browser" opens the signed preview: the issue is not in the archive yet
    previews = [h for h in hrefs if h.startswith(f"{settings.base_url}/preview/")]
    assert previews and len(set(previews)) == 1
    token = previews[0].rsplit("/", 1)[1]
    assert preview_digest_id(settings, token, now) is not None
    text = cli("digest", "preview", "2026-W48", "--format", "text")
    assert "Unsubscribe with one click: http://localhost/unsubscribe/" in text.stdout
    out = tmp_path / "issue.eml"
    eml = cli("digest", "preview", "2026-W48", "--format", "eml", "--out", str(out))
    assert eml.exit_code == 0 and "Wrote" in eml.stderr
    message = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{settings.base_url}/unsubscribe/")
    assert message["To"] == "reader@example.com"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    cannot = cli("digest", "preview", "1", "--out", str(tmp_path / "no" / "such" / "x.html"))
    assert cannot.exit_code == 1 and "cannot write" in cannot.stderr


def test_articles_related_prints_scores(cli, demo, db):
    from sqlalchemy import select

    from mailer.core.models import Article

    with db.session() as session:
        story = session.scalar(select(Article).where(Article.title.like("Budget passes%")))
    result = cli("articles", "related", story.url, "--json", "--k", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["article"]["id"] == story.id
    assert len(data["related"]) == 2
    assert all(r["score"] >= 0.25 and "librar" in r["title"].lower() for r in data["related"])
    by_id = cli("articles", "related", str(story.id))
    assert by_id.exit_code == 0 and data["related"][0]["title"] in by_id.stdout
    missing = cli("articles", "related", "https://nowhere.example/x")
    assert missing.exit_code == 1 and "no stored article" in missing.stderr
