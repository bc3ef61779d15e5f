"""Articles and engagement figures from files the newsroom exports (JSON Lines or CSV)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.content.sources.canonical import canonical_url, is_http
from mailer.content.sources.clean import clean_summary, excerpt, plain_text
from mailer.core import safejson
from mailer.core.db import Database
from mailer.core.errors import MailerError
from mailer.core.models import Article

T = TypeVar("T")


@dataclass
class FileReport:
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) from JSON Lines (.jsonl/.json) or a CSV with a header row."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise MailerError(f"cannot read {path}: {exc.strerror}.") from None
    with handle:
        try:
            if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = safejson.loads(line)
                    except ValueError:
                        yield number, {"__error__": "not valid JSON"}
                        continue
                    yield (
                        number,
                        record if isinstance(record, dict) else {"__error__": "not a JSON object"},
                    )
            else:
                reader = csv.DictReader(handle)
                if not reader.fieldnames:
                    raise MailerError(f"{path} is empty.")
                reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
                for row in reader:
                    yield reader.line_num, row
        except UnicodeDecodeError:
            raise MailerError(f"{path} is not UTF-8 text.") from None


def _date(value) -> datetime:
    if not value:
        raise ValueError("published_at is missing")
    text = str(value).strip()
    if text.isdigit():
        number = int(text)
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_to_article(record: dict) -> ArticleData:
    url = (record.get("url") or record.get("link") or "").strip()
    if not is_http(url):
        raise ValueError("url is missing or not http(s)")
    title = plain_text(record.get("title") or record.get("headline"))
    if not title:
        raise ValueError("title is missing")
    tags = record.get("tags") or ""
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace(";", ",").split(",") if t.strip()]
    image = (record.get("image_url") or "").strip() or None
    return ArticleData(
        url=canonical_url(url),
        guid=(record.get("guid") or "").strip() or None,
        title=title[:500],
        summary=excerpt(clean_summary(record.get("summary") or record.get("short_description"))),
        author=plain_text(record.get("author") or record.get("authors")) or None,
        section=plain_text(record.get("section") or record.get("category")) or None,
        tags=tuple(plain_text(t) for t in tags)[:10],
        image_url=image if is_http(image) else None,
        image_alt=plain_text(record.get("image_alt")) or None,
        published_at=_date(record.get("published_at") or record.get("date")),
    )


def _parsed(path: Path, parse: Callable[[dict], T], report: FileReport) -> Iterator[tuple[int, T]]:
    """Each record `parse` accepts, with its line; the others go into the report."""
    for number, record in read_records(path):
        if "__error__" in record:
            report.errors.append((number, record["__error__"]))
            continue
        try:
            yield number, parse(record)
        except ValueError as exc:
            report.errors.append((number, str(exc)))


def import_articles(db: Database, path: Path, now: datetime) -> FileReport:
    """Store every valid record; invalid ones are reported with their line numbers."""
    report = FileReport()
    with db.session() as session:
        for _, data in _parsed(path, record_to_article, report):
            _, outcome = upsert_article(session, data, now)
            if outcome == "created":
                report.stored += 1
            elif outcome == "updated":
                report.updated += 1
            else:
                report.unchanged += 1
    return report


def _count(record: dict, name: str) -> int | None:
    value = (str(record.get(name) or "")).strip().replace(",", "")
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number")
    return int(value)


def _stats_row(record: dict) -> tuple[str, dict[str, int | None]]:
    views = _count(record, "views")
    if views is None:
        raise ValueError("views is missing")
    figures = {name: _count(record, name) for name in ("shares", "comments", "clicks")}
    # clicks: the visits that came from our mail, as the analytics count them by utm_medium
    return (record.get("url") or "").strip(), {"views": views, **figures}


def import_stats(db: Database, path: Path, now: datetime) -> FileReport:
    """Views (and shares, comments, newsletter clicks) per article URL, from the analytics."""
    report = FileReport()
    rows = list(_parsed(path, _stats_row, report))
    wanted = sorted({canonical_url(url) for _, (url, _) in rows if url})
    with db.session() as session:
        articles: dict[str, Article] = {}
        for start in range(0, len(wanted), 500):  # one query per 500 rows, not one per row
            query = (
                select(Article)
                .where(Article.url.in_(wanted[start : start + 500]))
                .options(selectinload(Article.stats))
            )
            articles.update((a.url, a) for a in session.scalars(query))
        for number, (url, figures) in rows:
            article = articles.get(canonical_url(url)) if url else None
            if article is None:
                report.errors.append((number, f"no stored article at {url or '(empty url)'}"))
                continue
            set_stats(session, article, **figures, now=now)
            report.updated += 1
    report.errors.sort()
    return report
