"""Digests: a frozen snapshot of the week's top stories and their related coverage, built once."""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailer.content.calendar import day_key, period_bounds, period_key, special_day
from mailer.content.ranking import Doc, RankParams, normalise_title
from mailer.content.related import Related, RelatedIndex, follow_up_interest, related_coverage
from mailer.content.stories import STORY_PARAMS, Stories
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import MailerError, NotFound
from mailer.core.models import (
    Article,
    ArticleStats,
    ArticleTag,
    Digest,
    DigestItem,
    DigestRelated,
)
from mailer.core.text import strip_invisible
from mailer.editions.audit import audit
from mailer.editions.clicks.interest import recent_clicks
from mailer.editions.render import check_size
from mailer.editions.subjects import default_subject
from mailer.readers import newsletters

EDITABLE = ("draft",)
REBUILDABLE = ("draft", "skipped")  # a skipped week may be built when its articles arrive
RECENT_DIGESTS = 4
EXCERPT_WORDS = 50


def rank_params(settings: Settings) -> RankParams:
    return RankParams(
        top=settings.digest_top,
        max_per_section=settings.digest_max_per_section,
        related=settings.digest_related,
    )


def to_doc(article: Article) -> Doc:
    stats = article.stats
    return Doc(
        id=article.id,
        title=article.title,
        summary=article.summary or "",
        section=article.section,
        tags=tuple(t.tag for t in article.tags),
        published_at=article.published_at,
        views=stats.views if stats else 0,
        clicks=stats.clicks if stats else 0,
        shares=stats.shares if stats else 0,
        comments=stats.comments if stats else 0,
        editor_pick=bool(stats and stats.editor_pick),
        source=article.source_id,
        sticky=bool(article.sticky),
        position=article.feed_position,
    )


def excerpt(text: str, words: int = EXCERPT_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def context_line(article: Article) -> str:
    return f"In {article.section}" if article.section else ""


@dataclass(frozen=True)
class BuildResult:
    """What a build did; only created and rebuilt stored anything."""

    outcome: Literal["created", "rebuilt", "exists", "too_few", "locked", "too_big"]
    period: str
    digest_id: int | None
    message: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of a build


def find_digest(db: Database, ref: str | int, newsletter: str | int | None = None) -> Digest:
    """A digest by numeric id, or by period key such as 2019-W04 in a newsletter (slug or id;
    None: the default newsletter)."""
    with db.session() as session:
        return get_digest(session, ref, newsletter=newsletter)


def get_digest(
    session: Session,
    ref: str | int,
    *,
    lock: bool = False,
    newsletter: str | int | None = None,
) -> Digest:
    """`lock` holds the row until the transaction ends, so a status change is never lost."""
    text = str(ref).strip()
    query = select(Digest)
    if text.isdigit():
        query = query.where(Digest.id == int(text))
    elif special_day(text.upper()) is not None and newsletter is None:
        # a special edition's key is unique across newsletters: it names one issue on its own
        query = query.where(Digest.period_key == text.upper())
    else:
        owner = newsletters.find(session, newsletter).id
        query = query.where(Digest.period_key == text.upper(), Digest.newsletter_id == owner)
    if lock:
        query = query.with_for_update()
    digest = session.scalar(query)
    if digest is None:
        raise NotFound(f"no digest {text} (give an id or a week such as 2019-W04).")
    return digest


def recent_top_ids(
    session: Session, before_period: str, newsletter_id: int | None = None
) -> set[int]:
    """Articles that were top stories in the newsletter's last few digests (None: the default
    newsletter's), so an issue never repeats them."""
    owner = newsletter_id or newsletters.default_newsletter(session).id
    ids = session.scalars(
        select(Digest.id)
        .where(
            Digest.period_key < before_period,
            Digest.status.not_in(("cancelled", "skipped")),
            Digest.newsletter_id == owner,
        )
        .order_by(Digest.period_key.desc())
        .limit(RECENT_DIGESTS)
    ).all()
    if not ids:
        return set()
    rows = session.scalars(
        select(DigestItem.article_id).where(
            DigestItem.digest_id.in_(ids), DigestItem.article_id.is_not(None)
        )
    )
    return set(rows)


def load_docs(session: Session, since: datetime, until: datetime) -> list[Doc]:
    """Ranking's view of the articles published in [since, until): columns only, no ORM rows."""
    when = (Article.published_at >= since, Article.published_at < until)
    tags: dict[int, list[str]] = defaultdict(list)
    for article_id, tag in session.execute(
        select(ArticleTag.article_id, ArticleTag.tag)
        .join(Article, Article.id == ArticleTag.article_id)
        .where(*when)
        .order_by(ArticleTag.article_id, ArticleTag.tag)
    ):
        tags[article_id].append(tag)
    rows = session.execute(
        select(
            Article.id,
            Article.title,
            Article.summary,
            Article.section,
            Article.published_at,
            ArticleStats.views,
            ArticleStats.clicks,
            ArticleStats.shares,
            ArticleStats.comments,
            ArticleStats.editor_pick,
            Article.source_id,
            Article.sticky,
            Article.feed_position,
        )
        .outerjoin(ArticleStats, ArticleStats.article_id == Article.id)
        .where(*when)
        .order_by(Article.published_at, Article.id)
    )
    return [
        Doc(
            id=r[0],
            title=r[1],
            summary=r[2] or "",
            section=r[3],
            tags=tuple(tags.get(r[0], ())),
            published_at=r[4],
            views=r[5] or 0,
            clicks=r[6] or 0,
            shares=r[7] or 0,
            comments=r[8] or 0,
            editor_pick=bool(r[9]),
            source=r[10],
            sticky=bool(r[11]),
            position=r[12],
        )
        for r in rows
    ]


def build_digest(
    db: Database,
    settings: Settings,
    now: datetime,
    period: str | None = None,
    rebuild: bool = False,
    newsletter: str | int | None = None,
) -> BuildResult:
    """Create the period's snapshot once; a repeat is a no-op, a rebuild replaces a draft only.
    `newsletter` (slug or id; None: the default) sets the period (a day for a daily one) and,
    when it lists topics, which sections its stories come from."""

    zone = settings.zone
    with db.session() as session:
        owner = newsletters.find(session, newsletter)
        nid, topics = owner.id, _topics(owner.topics)
        named = newsletters.list_name_of(owner, settings)
        key = period or (day_key(now, zone) if owner.cadence == "daily" else period_key(now, zone))
    if special_day(key) is not None:  # composed by an editor from chosen articles, never ranked
        return BuildResult("locked", key, None, f"{key} is a special edition; it is not built.")
    start, end = period_bounds(key, zone)
    until = min(end, now + timedelta(microseconds=1))
    clock = _Stopwatch()
    mine = (Digest.period_key == key, Digest.newsletter_id == nid)
    try:
        with db.session() as session:
            existing = session.scalar(select(Digest).where(*mine))
            if existing is not None and not rebuild:
                return BuildResult(
                    "exists", key, existing.id, f"{key} exists already ({existing.status})."
                )
            if existing is not None and existing.status not in REBUILDABLE:
                return BuildResult(
                    "locked",
                    key,
                    existing.id,
                    f"{key} is {existing.status}; only a draft can be rebuilt.",
                )
            lookback = timedelta(days=STORY_PARAMS.lookback_days)  # how its stories grew
            window = load_docs(session, start - lookback, until)
            if topics:  # a newsletter's own sections: its stories come from these alone
                window = [d for d in window if (d.section or "").lower() in topics]
            candidates = [d for d in window if d.published_at >= start]
            if len(candidates) < settings.digest_min_items:
                return BuildResult(
                    "too_few",
                    key,
                    None,
                    f"{key} has {len(candidates)} articles; at least "
                    f"{settings.digest_min_items} are needed (MAILER_DIGEST_MIN_ITEMS).",
                )
            params = rank_params(settings)
            pinned = [i.article_id for i in existing.items if i.pinned] if existing else []
            docs = {d.id: d for d in candidates}
            kept = [(docs[i], 0.0) for i in pinned if i in docs]
            stories = Stories(window, start, min(end, now))
            chosen = kept + stories.top(
                replace(params, top=max(params.top - len(kept), 0)),
                recent_top_ids(session, key, nid),
                taken_ids=pinned,
                interest=follow_up_interest(candidates, recent_clicks(session, key)),
            )
            clock.lap("rank")
            window = timedelta(days=settings.related_window_days)
            with _no_gc():  # a 100k archive is a million small dicts: collecting them is waste
                index = RelatedIndex.build(load_docs(session, start - window, until))
            shown = {doc.id for doc, _ in chosen}
            related: dict[int, list] = {}
            for doc, _score in chosen:
                related[doc.id] = related_box(stories, index, doc, params, shown)
                shown.update(rel.doc.id for rel in related[doc.id])
            clock.lap("related")
            by_id = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(shown)))}
            if existing is not None:
                session.delete(existing)
                session.flush()
            digest = new_digest(settings, key, now, nid)
            for position, (doc, score) in enumerate(chosen):
                item = snapshot_item(by_id[doc.id], position, score)
                item.pinned = doc.id in pinned
                for rel_pos, rel in enumerate(related[doc.id]):
                    item.related.append(snapshot_related(by_id[rel.doc.id], rel_pos, rel.score))
                digest.items.append(item)
            fill_defaults(digest, settings, named)
            session.add(digest)
            session.flush()
            clock.lap("store")
            try:
                check_size(digest, settings)
            except MailerError as exc:
                raise _TooBig(str(exc)) from None
            clock.lap("render")
            audit(session, "system", "build" if existing is None else "rebuild", digest, now, {})
            outcome = "created" if existing is None else "rebuilt"
            return BuildResult(
                outcome,
                key,
                digest.id,
                f"{key} {outcome}: {len(digest.items)} stories, "
                f"{sum(len(i.related) for i in digest.items)} related.",
                clock.laps,
            )
    except _TooBig as exc:  # the transaction is rolled back: nothing of the new build is kept
        return BuildResult("too_big", key, None, f"{key} was not built: {exc}")
    except IntegrityError:
        # Another process stored this period between our check and our insert: theirs stands.
        with db.session() as session:
            other = session.scalar(select(Digest).where(*mine))
            if other is None:
                raise
        return BuildResult("exists", key, other.id, f"{key} was built by another process.")


def _topics(text: str) -> set[str]:
    """A newsletter's sections, lower-cased; none: every section."""
    return {t.strip().lower() for t in (text or "").split(",") if t.strip()}


def related_box(
    stories: Stories, index: RelatedIndex, doc: Doc, params: RankParams, shown: set[int]
) -> list[Related]:
    """The other pieces of the story first, then related coverage from the archive."""
    siblings = stories.siblings(doc, params.related, shown)
    titles = {normalise_title(rel.doc.title) for rel in siblings}
    taken = shown | {rel.doc.id for rel in siblings}
    more = [
        rel
        for rel in related_coverage(index, doc, params.related, taken)
        if normalise_title(rel.doc.title) not in titles
    ]
    return siblings + more[: params.related - len(siblings)]


class _TooBig(Exception):
    """The issue's HTML is over the size budget: undo the build."""


@contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Stopwatch:
    """Seconds spent in each phase of a build, for logs and the bench."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        moment = time.perf_counter()
        self.laps[name] = round(moment - self._last, 6)
        self._last = moment


def new_digest(
    settings: Settings, key: str, now: datetime, newsletter_id: int | None = None
) -> Digest:
    """A draft; without a newsletter it is the default newsletter's (the column's default)."""
    digest = Digest(period_key=key, status="draft", created_at=now, updated_at=now)
    if newsletter_id is not None:
        digest.newsletter_id = newsletter_id
    return digest


def snapshot_item(article: Article, position: int, score: float) -> DigestItem:
    return DigestItem(
        article_id=article.id,
        position=position,
        score=round(score, 4),
        title=strip_invisible(article.title),  # also for articles stored before ingest did it
        url=article.url,
        excerpt=excerpt(strip_invisible(article.summary or "")),
        author=article.author,
        section=article.section,
        image_url=article.image_url,
        image_alt=article.image_alt,
        published_at=article.published_at,
    )


def snapshot_related(article: Article, position: int, score: float) -> DigestRelated:
    return DigestRelated(
        article_id=article.id,
        position=position,
        score=score,
        title=strip_invisible(article.title),
        url=article.url,
        context=context_line(article),
        published_at=article.published_at,
    )


def fill_defaults(digest: Digest, settings: Settings, list_name: str | None = None) -> None:
    """A subject and preheader an editor can accept as they are; `list_name` is the
    newsletter's as readers know it (None: MAILER_LIST_NAME)."""
    titles = [item.title for item in digest.items]
    if titles and not digest.subject:
        digest.subject = default_subject(titles[0], digest.period_key, settings, list_name)
    if len(titles) > 1 and not digest.preheader:
        digest.preheader = ("Also: " + "; ".join(titles[1:3]))[:250]


def record_skipped(
    db: Database, period: str, reason: str, now: datetime, newsletter_id: int | None = None
) -> None:
    """Remember that a week had too little content, so dashboards and operators can see it."""
    try:
        with db.session() as session:
            row = Digest(
                period_key=period,
                status="skipped",
                status_reason=reason,
                created_at=now,
                updated_at=now,
            )
            if newsletter_id is not None:
                row.newsletter_id = newsletter_id
            session.add(row)
    except IntegrityError:
        return  # another scheduler recorded it first
