import re

import pytest

from mailer.content.demo import load_demo
from mailer.editions.accounts import add_editor
from tests.fixtures.editors import FAST_COST, signed_in, token


@pytest.fixture
def desk(db, now, settings):
    load_demo(db, now, settings.zone)
    with db.session() as session:
        add_editor(session, "ed@example.com", "a long password", "editor", now, cost=FAST_COST)


def test_search_and_mark_a_pick(client, desk, db):
    signed_in(client)
    page = client.get("/admin/articles?q=comet").get_data(as_text=True)
    assert "Riverton comet" in page and "libraries" not in page
    article_id = re.search(r"/admin/articles/(\d+)/pick", page).group(1)
    response = client.post(
        f"/admin/articles/{article_id}/pick",
        data={"pick": "1", "q": "comet", "csrf_token": token(page)},
        follow_redirects=True,
    )
    assert "Marked as editor&#39;s pick" in response.get_data(as_text=True)
    from mailer.core.models import Article

    with db.session() as session:
        assert session.get(Article, int(article_id)).stats.editor_pick


def test_sources_page_shows_health(client, desk, db, now):
    from mailer.content.sources.ingest import ensure_source

    ensure_source(db, "https://feeds.example.com/rss", now)
    signed_in(client)
    page = client.get("/admin/sources").get_data(as_text=True)
    assert "https://feeds.example.com/rss" in page and "never" in page
