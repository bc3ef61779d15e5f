"""Digest build time over 10k and 100k articles, and rendering plus personalisation speed.

Data: the HuffPost "News Category Dataset" sample (R. Misra, CC BY 4.0) in ../shared/data,
its rows repeated with shifted dates. Both archives span the same 26 weeks (the related-coverage
window plus the digest's week), so the 100k archive is ten times as dense: every article of it
is inside the window the build indexes, which is the hard case for related coverage.

Run: python bench/digest.py   (prints one JSON line at the end)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from mailer.core.config import Settings  # noqa: E402
from mailer.core.db import Database, upgrade  # noqa: E402
from mailer.core.models import Article, ArticleStats  # noqa: E402
from mailer.editions.digests import build_digest, find_digest  # noqa: E402
from mailer.editions.render import PLACEHOLDERS, marker, render_digest  # noqa: E402
from mailer.readers.links import preferences_url, unsubscribe_url  # noqa: E402

# ../shared/data beside the checkout (CI); a git worktree one level deeper looks one further up.
SHARED = next(
    (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)
DATA = SHARED / "huffpost-news-category-sample.jsonl"
PERIOD = "2026-W10"
SUBSCRIBERS = 10_000
SECRET = "bench-secret-key-that-is-long-enough-0123456789-abcdef"


def huffpost_rows() -> list[dict]:
    with DATA.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return sorted(rows, key=lambda r: (r["date"], r["link"]))


def make_settings(folder: Path) -> Settings:
    return Settings.from_env(
        {},
        instance_dir=str(folder / "instance"),
        database_url=f"sqlite:///{folder / 'bench.db'}",
        secret_key=SECRET,
        transport=f"file://{folder / 'outbox'}",
        base_url="https://mail.example.com",
    )


def fill(db: Database, rows: list[dict], size: int, end: datetime, span: timedelta) -> None:
    """`size` articles spread evenly over `span` before `end`, the sample's rows in date order."""
    start = end - span
    step = span / size
    now = end
    with db.session() as session:
        for chunk_start in range(0, size, 5000):
            articles, stats = [], []
            for i in range(chunk_start, min(size, chunk_start + 5000)):
                row = rows[i % len(rows)]
                articles.append(
                    {
                        "id": i + 1,
                        "url": f"{row['link']}?n={i}",
                        "guid": f"bench:{i}",
                        "title": row["headline"] or "(untitled)",
                        "summary": row.get("short_description") or "",
                        "author": row.get("authors") or None,
                        "section": (row["category"] or "").title() or None,
                        "published_at": start + step * i,
                        "content_hash": f"{i:064d}",
                        "created_at": now,
                    }
                )
                stats.append({"article_id": i + 1, "views": (i * 7919) % 5000, "clicks": i % 7})
            session.execute(insert(Article), articles)
            session.execute(insert(ArticleStats), stats)


def bench_build(rows: list[dict], size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp))
        db = Database(settings.effective_database_url)
        upgrade(db)
        from mailer.content.calendar import period_bounds

        _start, end = period_bounds(PERIOD, settings.zone)
        span = timedelta(days=settings.related_window_days + 7)
        fill(db, rows, size, end, span)
        began = time.perf_counter()
        result = build_digest(db, settings, end - timedelta(hours=1), period=PERIOD)
        seconds = time.perf_counter() - began
        assert result.outcome == "created", result.message
        digest = find_digest(db, result.digest_id)
        db.dispose()
    return {
        "seconds": round(seconds, 3),
        "related_seconds": result.timings.get("related", 0.0),
        "phases": result.timings,
        "stories": len(digest.items),
        "related": sum(len(i.related) for i in digest.items),
        "digest": digest,
        "settings": settings,
    }


def bench_personalise(digest, settings: Settings) -> dict:
    """Messages per second: render once, then per subscriber links and substitution."""
    names = [f"Reader{n}" for n in range(SUBSCRIBERS)]

    began = time.perf_counter()
    rendered = render_digest(digest, settings)
    total = 0
    for n, name in enumerate(names):
        values = {
            "unsubscribe_url": unsubscribe_url(settings, n + 1, "nonce"),
            "preferences_url": preferences_url(settings, n + 1, "nonce"),
            "first_name": name,
            "greeting": f"Hello {name},",
        }
        subject, text, html = rendered.personalise(values)
        total += len(html) + len(text) + len(subject)
    ours = time.perf_counter() - began

    # The ceiling: the same substitutions on the same pre-rendered strings, values made up front.
    prepared = [
        {marker(p, rendered.nonce): f"https://mail.example.com/{p}/{n}" for p in PLACEHOLDERS}
        for n in range(SUBSCRIBERS)
    ]
    subject0, text0, html0 = rendered.subject, rendered.text, rendered.html
    began = time.perf_counter()
    bare_total = 0
    for values in prepared:
        subject, text, html = subject0, text0, html0
        for key, value in values.items():
            subject = subject.replace(key, value)
            text = text.replace(key, value)
            html = html.replace(key, value)
        bare_total += len(html) + len(text) + len(subject)
    bare = time.perf_counter() - began

    # Substitution alone (no token signing), to show where the time goes.
    began = time.perf_counter()
    for n, name in enumerate(names):
        rendered.personalise(
            {
                "unsubscribe_url": f"https://mail.example.com/u/{n}",
                "preferences_url": f"https://mail.example.com/p/{n}",
                "first_name": name,
                "greeting": f"Hello {name},",
            }
        )
    substitution_only = time.perf_counter() - began
    assert total and bare_total
    return {
        "messages_per_second": round(SUBSCRIBERS / ours),
        "bare_substitution_per_second": round(SUBSCRIBERS / bare),
        "ratio_to_bare": round(bare / ours, 3),
        "substitution_only_ratio_to_bare": round(bare / substitution_only, 3),
        "html_bytes": len(rendered.html.encode()),
    }


def main() -> None:
    rows = huffpost_rows()
    small = bench_build(rows, 10_000)
    large = bench_build(rows, 100_000)
    speed = bench_personalise(large["digest"], large["settings"])
    result = {
        "bench": "digest",
        "build_10k_s": small["seconds"],
        "build_100k_s": large["seconds"],
        "growth_ratio": round(large["seconds"] / small["seconds"], 2),
        "growth_goal": 12,
        "related_share_10k": round(small["related_seconds"] / small["seconds"], 3),
        "related_share_100k": round(large["related_seconds"] / large["seconds"], 3),
        "phases_10k": small["phases"],
        "phases_100k": large["phases"],
        "stories_100k": large["stories"],
        "related_100k": large["related"],
        **speed,
        "subscribers": SUBSCRIBERS,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
