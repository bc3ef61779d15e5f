"""Quality on real public data from ../shared/data (see its README for sources and licences).

- uci-news-aggregator-sample.csv: a sample of the UCI "News Aggregator" dataset
  (F. Gasparetti), CC BY 4.0.
- huffpost-news-category-sample.jsonl: a sample of the "News Category Dataset" (R. Misra),
  CC BY 4.0.
"""

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailer.ranking import Doc, RankParams, RelatedIndex, related_coverage

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
UCI_SECTIONS = {"b": "Business", "t": "Technology", "e": "Entertainment", "m": "Health"}
# Measured 0.868 at 98.9% coverage with the default weights (see the closing note); the floor
# leaves room for harmless tie-break changes, not for a worse algorithm.
UCI_PRECISION_FLOOR = 0.85


def uci_docs():
    path = DATA / "uci-news-aggregator-sample.csv"
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r.get("TIMESTAMP") or "").isdigit()]
    docs = [
        Doc(
            int(r["ID"]),
            r["TITLE"],
            "",
            UCI_SECTIONS.get(r["CATEGORY"]),
            (),
            datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, UTC),
        )
        for r in rows
    ]
    return docs, {int(r["ID"]): r["STORY"] for r in rows}


def test_related_coverage_precision_at_3_on_uci_news_aggregator():
    docs, story = uci_docs()
    assert len(docs) > 6000
    index = RelatedIndex.build(docs, RankParams())
    shown = hits = answered = 0
    for doc in docs:
        related = related_coverage(index, doc, 3)
        if related:
            answered += 1
        shown += len(related)
        hits += sum(story[r.doc.id] == story[doc.id] for r in related)
    precision = hits / shown
    coverage = answered / len(docs)
    assert precision >= UCI_PRECISION_FLOOR, f"precision@3 {precision:.3f}"
    assert coverage >= 0.95, f"coverage {coverage:.3f}"


def huffpost_rows():
    with (DATA / "huffpost-news-category-sample.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture
def huffpost_archive(db, now):
    """The HuffPost sample stored as articles, each with made-up but fixed view counts."""
    from mailer.articles import ArticleData, set_stats, upsert_article

    rows = huffpost_rows()
    weeks = Counter(datetime.fromisoformat(r["date"]).isocalendar()[:2] for r in rows)
    (year, week), count = weeks.most_common(1)[0]
    busy_monday = datetime.fromisocalendar(year, week, 1)
    # only what a build of that week can see: the week and the related-coverage window
    rows = [
        r
        for r in rows
        if busy_monday - timedelta(days=190)
        <= datetime.fromisoformat(r["date"])
        < busy_monday + timedelta(days=7)
    ]
    with db.session() as session:
        for n, row in enumerate(rows):
            published = datetime.fromisoformat(row["date"]).replace(hour=12, tzinfo=UTC)
            article, outcome = upsert_article(
                session,
                ArticleData(
                    url=row["link"],
                    title=row["headline"] or "(untitled)",
                    summary=row.get("short_description") or "",
                    author=row.get("authors") or None,
                    section=row["category"].title(),
                    published_at=published,
                ),
                now,
            )
            if outcome == "created":
                set_stats(session, article, views=(n * 7919) % 5000, now=now)
    return f"{year}-W{week:02d}", count


def test_a_busy_huffpost_week_builds_a_digest_that_obeys_every_rule(
    db, settings, now, huffpost_archive
):
    from mailer import digests
    from mailer.render import MAX_HTML_BYTES, render_digest

    period, count = huffpost_archive
    assert count >= 100
    result = digests.build_digest(db, settings, now, period=period)
    assert result.outcome == "created", result.message
    digest = digests.find_digest(db, result.digest_id)
    items = digest.items
    assert len(items) == settings.digest_top
    sections = Counter(i.section for i in items)
    assert max(sections.values()) <= settings.digest_max_per_section
    shown = [i.article_id for i in items] + [r.article_id for i in items for r in i.related]
    assert len(shown) == len(set(shown))
    window = timedelta(days=settings.related_window_days + 7)
    for item in items:
        assert len(item.related) <= settings.digest_related
        for rel in item.related:
            assert abs(rel.published_at - item.published_at) <= window
            assert rel.title.lower() != item.title.lower()
    rendered = render_digest(digest, settings)
    assert len(rendered.html.encode()) < MAX_HTML_BYTES
