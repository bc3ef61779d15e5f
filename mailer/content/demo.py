"""The demo archive: articles the team wrote, dated relative to now so a digest builds at once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Article

DEMO_FILE = Path(__file__).parent / "data" / "demo_articles.jsonl"
DEMO_SITE = "https://news.example.com"
# The demo's pictures (content/data/images, drawn by demo_images.py) are served by this app.
DEMO_IMAGE_PATH = "/demo/images"


def demo_rows() -> list[dict]:
    with DEMO_FILE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def demo_image_url(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}{DEMO_IMAGE_PATH}/{slug}.png"


def load_demo(
    db: Database, now: datetime, zone: ZoneInfo, base_url: str = Settings.base_url
) -> int:
    """Store the demo articles (idempotent); returns how many were new. Their pictures are
    addressed at base_url (MAILER_BASE_URL), where this app serves them."""
    local_now = now.astimezone(zone)
    created = 0
    with db.session() as session:
        for row in demo_rows():
            day = (local_now - timedelta(days=row["days_ago"])).date()
            published = datetime(day.year, day.month, day.day, row["hour"], 0, tzinfo=zone)
            if published > now:
                # Not later than now, nor before today: this week always has the newest pieces.
                midnight = datetime(local_now.year, local_now.month, local_now.day, tzinfo=zone)
                published = max(now - timedelta(minutes=5), midnight)
            section = row["section"]
            data = ArticleData(
                url=f"{DEMO_SITE}/{section.lower()}/{row['slug']}",
                guid=f"demo:{row['slug']}",
                title=row["title"],
                summary=row["summary"],
                author=row.get("author"),
                section=section,
                tags=tuple(row.get("tags", ())),
                image_url=demo_image_url(base_url, row["slug"]) if row.get("image_alt") else None,
                image_alt=row.get("image_alt"),
                published_at=published,
            )
            article, outcome = upsert_article(session, data, now)
            created += outcome == "created"
            set_stats(
                session,
                article,
                views=row.get("views", 0),
                editor_pick=row.get("editor_pick", False),
                now=now,
            )
    return created


def archive_is_empty(db: Database) -> bool:
    with db.session() as session:
        return not session.scalar(select(func.count()).select_from(Article))
