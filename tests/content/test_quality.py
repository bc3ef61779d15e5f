"""Quality on real public data in ../shared/data (see its README for origins and terms).

- uci-news-aggregator-sample.csv: a sample of the UCI Machine Learning Repository's
  "News Aggregator" dataset (F. Gasparetti), CC BY 4.0.
- huffpost-news-category-sample.jsonl: a sample of the "News Category Dataset" (R. Misra,
  HuffPost headlines), CC BY 4.0.
"""

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.content.calendar import period_bounds
from mailer.content.ranking import Doc, RankParams, RelatedIndex, normalise_title, related_coverage
from mailer.editions import digests
from mailer.editions.render import MAX_HTML_BYTES, render_digest
from tests.fixtures.content import shared_data

UCI_SECTIONS = {"b": "Business", "t": "Technology", "e": "Entertainment", "m": "Health"}
# Measured with the default RankParams, every headline a query: precision@3 0.868, 98.9% of
# headlines get at least one related item, 2.92 shown on average. Threshold 0.30 gives 0.884 at
# 96.6%, 0.35 gives 0.901 at 92.4%: we keep 0.25 so nearly every story has its coverage. The test
# asks every third headline (0.870 at 99.2%, a third of the time); floors sit a little below.
UCI_PRECISION_FLOOR = 0.85
UCI_COVERAGE_FLOOR = 0.97


def uci_docs() -> tuple[list[Doc], dict[int, str]]:
    with (shared_data() / "uci-news-aggregator-sample.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r.get("TIMESTAMP") or "").isdigit()]
    docs = [
        Doc(
            id=int(r["ID"]),
            title=r["TITLE"],
            summary="",  # headlines only
            section=UCI_SECTIONS.get(r["CATEGORY"]),
            tags=(),
            published_at=datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, UTC),
        )
        for r in rows
    ]
    return docs, {int(r["ID"]): r["STORY"] for r in rows}


def test_related_coverage_precision_at_3_on_the_uci_news_aggregator_sample():
    docs, story = uci_docs()
    assert len(docs) > 6000
    index = RelatedIndex.build(docs, RankParams())
    shown = hits = answered = 0
    queries = docs[::3]
    for doc in queries:
        related = related_coverage(index, doc, 3)
        answered += bool(related)
        shown += len(related)
        hits += sum(story[r.doc.id] == story[doc.id] for r in related)
    precision, coverage = hits / shown, answered / len(queries)
    assert precision >= UCI_PRECISION_FLOOR, f"precision@3 {precision:.3f}"
    assert coverage >= UCI_COVERAGE_FLOOR, f"coverage {coverage:.3f}"


@pytest.fixture
def huffpost_week(db, now):
    """The sample's busiest ISO week, and the related-coverage window before it, as articles."""
    with (shared_data() / "huffpost-news-category-sample.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    weeks = Counter(datetime.fromisoformat(r["date"]).isocalendar()[:2] for r in rows)
    (year, week), count = min(weeks.items(), key=lambda kv: (-kv[1], kv[0]))
    key = f"{year}-W{week:02d}"
    start, end = period_bounds(key, UTC)
    since = start - timedelta(days=190)
    with db.session() as session:
        for n, row in enumerate(rows):
            published = datetime.fromisoformat(row["date"]).replace(hour=12, tzinfo=UTC)
            if not since <= published < end:
                continue
            article, outcome = upsert_article(
                session,
                ArticleData(
                    url=row["link"],
                    title=row["headline"] or "(untitled)",
                    summary=row["short_description"] or "",
                    author=row["authors"] or None,
                    section=row["category"].title(),
                    published_at=published,
                ),
                now,
            )
            if outcome == "created":  # made-up but fixed engagement figures
                set_stats(session, article, views=(n * 7919) % 5000, now=now)
    return key, count, end


def test_a_busy_huffpost_week_builds_a_digest_that_obeys_every_rule(db, settings, huffpost_week):
    key, count, end = huffpost_week
    assert count >= 100
    built_at = end + timedelta(days=1)
    result = digests.build_digest(db, settings, built_at, period=key)
    assert result.outcome == "created", result.message
    digest = digests.find_digest(db, key)
    items = digest.items
    assert len(items) == settings.digest_top
    assert max(Counter(i.section for i in items).values()) <= settings.digest_max_per_section
    shown = [i.article_id for i in items] + [r.article_id for i in items for r in i.related]
    assert len(shown) == len(set(shown))  # no repeats anywhere in the issue
    start, _ = period_bounds(key, settings.zone)
    earliest = start - timedelta(days=settings.related_window_days)
    # The busiest weeks are the sample's first (May 2018), so the window before them is nearly
    # empty; still, the Iran-deal stories find each other (4 related items measured).
    assert sum(len(i.related) for i in items) >= 3
    for item in items:
        assert start <= item.published_at < end
        assert len(item.related) <= settings.digest_related
        keys = [normalise_title(item.title)] + [normalise_title(r.title) for r in item.related]
        assert len(keys) == len(set(keys))  # no re-published copies, no two alike
        for rel in item.related:
            assert earliest <= rel.published_at <= built_at
            assert rel.score >= RankParams().threshold
            assert rel.context.startswith("In ")
    assert len(render_digest(digest, settings).html.encode()) < MAX_HTML_BYTES
    # the same archive and settings give the same digest
    rebuilt = digests.build_digest(db, settings, built_at, period=key, rebuild=True)
    again = digests.find_digest(db, rebuilt.digest_id)
    assert [(i.article_id, [r.article_id for r in i.related]) for i in again.items] == [
        (i.article_id, [r.article_id for r in i.related]) for i in items
    ]
