"""Top stories without analytics: are they the week's biggest stories?

Data (../shared/data, see its README): the UCI Machine Learning Repository's "News Aggregator"
sample (F. Gasparetti, CC BY 4.0), whose STORY column names the event each headline is about,
and the HuffPost "News Category Dataset" sample (R. Misra, CC BY 4.0).

Measure: with no engagement figures, how many of the 5 top stories come from the week's 10
largest STORY clusters, and how many distinct clusters the 5 are from. Then the top 5 of the
HuffPost sample's busiest week, to read.

Run: python bench/stories.py   (prints one JSON line, then the HuffPost top 5)
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailer.content.calendar import period_bounds  # noqa: E402
from mailer.content.ranking import Doc, RankParams  # noqa: E402
from mailer.content.stories import STORY_PARAMS, Stories  # noqa: E402

SHARED = next(
    (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)
UCI_SECTIONS = {"b": "Business", "t": "Technology", "e": "Entertainment", "m": "Health"}
UCI_WEEK = "2014-W11"  # the sample's three days of March 2014


def uci_docs() -> tuple[list[Doc], dict[int, str]]:
    """The UCI sample as pieces (publishers as sources), and each piece's STORY cluster."""
    with (SHARED / "uci-news-aggregator-sample.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r.get("TIMESTAMP") or "").isdigit()]
    publishers: dict[str, int] = {}
    docs = [
        Doc(
            id=int(r["ID"]),
            title=r["TITLE"],
            summary="",
            section=UCI_SECTIONS.get(r["CATEGORY"]),
            tags=(),
            published_at=datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, UTC),
            source=publishers.setdefault(r["PUBLISHER"], len(publishers)),
        )
        for r in rows
    ]
    return docs, {int(r["ID"]): r["STORY"] for r in rows}


def uci_measure() -> dict:
    docs, story = uci_docs()
    start, end = period_bounds(UCI_WEEK, UTC)
    began = time.perf_counter()
    stories = Stories(docs, start, end)
    top = stories.top(RankParams())
    seconds = time.perf_counter() - began
    largest = {s for s, _ in Counter(story.values()).most_common(10)}
    clusters = [story[doc.id] for doc, _ in top]
    return {
        "uci_top5_from_10_largest": sum(c in largest for c in clusters),
        "uci_top5_distinct_clusters": len(set(clusters)),
        "uci_groups": len(stories.groups),
        "uci_seconds": round(seconds, 3),
        "uci_top5": [doc.title for doc, _ in top],
    }


def huffpost_busiest_week() -> tuple[str, list[Doc]]:
    """The sample's busiest ISO week and the lookback days before it, as pieces."""
    with (SHARED / "huffpost-news-category-sample.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    weeks = Counter(datetime.fromisoformat(r["date"]).isocalendar()[:2] for r in rows)
    (year, week), _ = min(weeks.items(), key=lambda kv: (-kv[1], kv[0]))
    key = f"{year}-W{week:02d}"
    start, end = period_bounds(key, UTC)
    since = start - timedelta(days=STORY_PARAMS.lookback_days)
    docs = []
    for n, row in enumerate(rows):
        published = datetime.fromisoformat(row["date"]).replace(hour=12, tzinfo=UTC)
        if since <= published < end:
            docs.append(
                Doc(
                    id=n + 1,
                    title=row["headline"] or "(untitled)",
                    summary=row["short_description"] or "",
                    section=row["category"].title(),
                    tags=(),
                    published_at=published,
                )
            )
    return key, docs


def main() -> None:
    print(json.dumps({"bench": "stories", **uci_measure()}))
    key, docs = huffpost_busiest_week()
    start, end = period_bounds(key, UTC)
    stories = Stories(docs, start, end)
    by_lead = {s.lead.id: s for s in stories.scored()}
    print(f"HuffPost {key}: {sum(d.published_at >= start for d in docs)} pieces")
    for doc, score in stories.top(RankParams()):
        s = by_lead[doc.id]
        print(
            f"  {score:6.3f}  {doc.published_at:%a %d %b}  {doc.section:<14} {doc.title}"
            f"  [{s.this_week} this week, {s.days_before} before]"
        )
        for rel in stories.siblings(doc, 3):
            print(f"          + {rel.doc.published_at:%a %d} {rel.doc.title}")


if __name__ == "__main__":
    main()
