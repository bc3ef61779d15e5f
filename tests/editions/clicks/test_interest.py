"""A build reads the last issues' clicks: follow-ups of clicked stories get a small boost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mailer.core.models import Digest, DigestItem
from mailer.editions import digests
from mailer.editions.clicks.counts import LinkKey, add_count

LAST_WEEK = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # 2026-W47
THIS_WEEK = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 2026-W48, before the test's now


@pytest.fixture
def settings_overrides():
    return {"digest_top": 1, "digest_related": 0, "digest_min_items": 2}


def row(n, title, summary, published, views):
    return {
        "url": f"https://news.example.com/{n}",
        "title": title,
        "summary": summary,
        "section": "News",
        "published_at": published,
        "views": views,
    }


def test_a_follow_up_of_last_weeks_clicked_story_is_lifted(db, settings, now, store_articles):
    store_articles(
        [
            row(
                1,
                "Harbour bridge closes for urgent cable repairs",
                "Corroded cables.",
                LAST_WEEK,
                50,
            ),
            row(2, "Choir wins the regional contest", "Singers celebrate.", LAST_WEEK, 10),
        ]
    )
    last = digests.build_digest(db, settings, now, period="2026-W47")
    with db.session() as session:
        session.execute(update(Digest).where(Digest.id == last.digest_id).values(status="sent"))
        bridge_item = session.scalar(
            select(DigestItem.id).where(DigestItem.digest_id == last.digest_id)
        )
    store_articles(
        [
            row(
                3,
                "Harbour bridge cable repairs to last all winter",
                "Engineers say the corroded cables need replacing.",
                THIS_WEEK,
                100,
            ),
            row(
                4, "Library opens a new reading room", "Books.", THIS_WEEK + timedelta(hours=1), 100
            ),
        ]
    )

    def top_title() -> str:
        built = digests.build_digest(db, settings, now, rebuild=True)
        return digests.find_digest(db, built.digest_id).items[0].title

    assert top_title() == "Library opens a new reading room"  # fresher; nobody clicked yet
    with db.session() as session:
        for _ in range(7):
            add_count(session, LinkKey(last.digest_id, "story", bridge_item, now.date()), None)
    assert top_title() == "Harbour bridge cable repairs to last all winter"
