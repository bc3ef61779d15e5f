"""Digest build time at 10k and 100k articles, and personalisation speed against a bare loop.

Archives are shaped like the real data: HuffPost headlines and descriptions from
../shared/data (R. Misra, "News Category Dataset", CC BY 4.0), repeated with shifted dates so
that each archive covers the same year; 100k articles is ten times as dense as 10k.
Prints one JSON line at the end.  Usage: python bench/digest.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailer import digests  # noqa: E402
from mailer.compose import Recipient, digest_message  # noqa: E402
from mailer.config import Settings  # noqa: E402
from mailer.db import Database, upgrade  # noqa: E402
from mailer.models import Article, ArticleStats  # noqa: E402
from mailer.ranking import RelatedIndex, period_bounds, related_coverage  # noqa: E402
from mailer.render import marker, render_digest  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "huffpost-news-category-sample.jsonl"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
PERIOD = "2026-W48"


def rows() -> list[dict]:
    with DATA.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fill(db: Database, size: int, source: list[dict]) -> None:
    """`size` articles spread over the year before NOW, in bulk (setup, not measured)."""
    span = timedelta(days=364).total_seconds()
    batch, stats = [], []
    for n in range(size):
        row = source[n % len(source)]
        published = NOW - timedelta(seconds=span * (n / size)) - timedelta(minutes=5)
        batch.append(
            {
                "id": n + 1,
                "url": f"https://news.example.com/{n}",
                "guid": f"g{n}",
                "title": row["headline"] or "(untitled)",
                "summary": row["short_description"] or "",
                "author": row.get("authors") or None,
                "section": row["category"].title(),
                "published_at": published,
                "content_hash": secrets.token_hex(16),
                "created_at": NOW,
            }
        )
        stats.append(
            {
                "article_id": n + 1,
                "views": (n * 7919) % 5000,
                "shares": 0,
                "comments": 0,
                "clicks": 0,
                "editor_pick": False,
            }
        )
        if len(batch) == 5000:
            _flush(db, batch, stats)
    _flush(db, batch, stats)


def _flush(db: Database, batch: list, stats: list) -> None:
    if batch:
        with db.session() as session:
            session.execute(Article.__table__.insert(), batch)
            session.execute(ArticleStats.__table__.insert(), stats)
        batch.clear()
        stats.clear()


def measure_build(size: int, source: list[dict], workdir: Path) -> dict:
    db = Database(f"sqlite:///{workdir / f'bench-{size}.db'}")
    upgrade(db)
    fill(db, size, source)
    settings = Settings.from_env({}, instance_dir=str(workdir), secret_key="b" * 40)
    started = time.perf_counter()
    result = digests.build_digest(db, settings, NOW, period=PERIOD)
    total = time.perf_counter() - started
    assert result.outcome == "created", result.message
    # the related-coverage share: the same index and queries, timed on their own
    start, _ = period_bounds(PERIOD, settings.zone)
    with db.session() as session:
        docs = digests.load_docs(
            session, Article.published_at >= start - timedelta(days=settings.related_window_days)
        )
    t0 = time.perf_counter()
    index = RelatedIndex.build(docs, digests.rank_params(settings))
    digest = digests.find_digest(db, result.digest_id)
    positions = {d.id: d for d in docs}
    for item in digest.items:
        related_coverage(index, positions[item.article_id], settings.digest_related)
    related = time.perf_counter() - t0
    db.dispose()
    return {
        "articles": size,
        "archive_window": len(docs),
        "build_seconds": round(total, 3),
        "related_seconds": round(related, 3),
        "related_share": round(related / total, 3),
        "digest": digest,
    }


def measure_personalisation(digest, settings: Settings, subscribers: int) -> dict:
    rendered = render_digest(digest, settings)
    recipients = [
        Recipient(i, f"reader{i}@example.com", "Ann" if i % 2 else None, secrets.token_hex(8))
        for i in range(subscribers)
    ]
    started = time.perf_counter()
    for r in recipients:
        digest_message(rendered, r, settings, f"<{r.id}@example.com>", digest.period_key, r.id)
    ours = subscribers / (time.perf_counter() - started)
    keys = [marker(n) for n in ("unsubscribe_url", "preferences_url", "greeting")]
    started = time.perf_counter()
    for r in recipients:
        html, text = rendered.html, rendered.text
        for key in keys:
            html = html.replace(key, f"https://x.example/{r.id}")
            text = text.replace(key, f"https://x.example/{r.id}")
    bare = subscribers / (time.perf_counter() - started)
    return {
        "messages_per_second": round(ours),
        "bare_substitution_per_second": round(bare),
        "ratio": round(ours / bare, 3),
        "html_bytes": len(rendered.html.encode()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--subscribers", type=int, default=10000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    source = rows()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        builds = [measure_build(size, source, workdir) for size in sizes]
        settings = Settings.from_env({}, instance_dir=str(workdir), secret_key="b" * 40)
        personal = measure_personalisation(builds[-1]["digest"], settings, args.subscribers)
    for b in builds:
        b.pop("digest")
        print(
            f"build {b['articles']:>7} articles: {b['build_seconds']}s "
            f"(related {b['related_share']:.0%})",
            file=sys.stderr,
        )
    result = {
        "bench": "digest",
        "builds": builds,
        "growth_ratio": round(builds[-1]["build_seconds"] / builds[0]["build_seconds"], 2),
        "growth_goal_at_most": 12,
        "personalisation": personal,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
