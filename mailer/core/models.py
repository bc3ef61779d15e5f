"""Tables. Correctness lives here: unique keys make repeated work harmless."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


# Subscriber states. `erased` keeps only a row with no personal data.
SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bounced", "complained", "erased")
DIGEST_STATUSES = ("draft", "approved", "sending", "paused", "sent", "skipped", "cancelled")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped", "unknown")


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(60))
    # The reader's language for pages and mail; None: MAILER_DEFAULT_LANGUAGE (readers who
    # joined before languages existed, or whom an operator added).
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    token_nonce: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(32), default="form")
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class ConsentEvent(Base):
    """Append-only proof of what a reader agreed to, and when they took it back."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))  # signup|confirm|withdraw|preferences|erase
    at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    form_version: Mapped[str | None] = mapped_column(String(32))
    consent_text_hash: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str | None] = mapped_column(String(512))
    captcha_provider: Mapped[str | None] = mapped_column(String(32))
    captcha_result: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]


NEWSLETTER_CADENCES = ("weekly", "daily", "manual")
NEWSLETTER_SUBSCRIPTION_STATUSES = ("active", "unsubscribed")


class Newsletter(Base):
    """One list readers choose on Join; digests, the archive and unsubscribing are per list.
    Empty sender fields fall back to MAILER_FROM_ADDR; day and hour to MAILER_BUILD_AT."""

    __tablename__ = "newsletters"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # never changes: consent names it
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    topics: Mapped[str] = mapped_column(String(512), default="")  # sections, comma-separated
    cadence: Mapped[str] = mapped_column(String(8), default="weekly")  # weekly|daily|manual
    send_day: Mapped[int | None] = mapped_column(Integer)  # 0 Monday .. 6 Sunday (weekly)
    send_hour: Mapped[int | None] = mapped_column(Integer)  # 0..23, site time zone
    from_name: Mapped[str | None] = mapped_column(String(128))
    from_address: Mapped[str | None] = mapped_column(String(320))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NewsletterSubscription(Base):
    """A reader's choice of one newsletter: mail goes only while it is active."""

    __tablename__ = "newsletter_subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "newsletter_id"),
        Index("ix_newsletter_subscriptions_newsletter", "newsletter_id", "status", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|unsubscribed
    subscribed_at: Mapped[datetime]
    unsubscribed_at: Mapped[datetime | None]


# A digest made without a newsletter (code written before there were several) is the default's.
_DEFAULT_NEWSLETTER = select(Newsletter.id).where(Newsletter.is_default.is_(True)).limit(1)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="rss")  # rss|wordpress|import
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(String(64))  # WordPress `after=`
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    guid: Mapped[str | None] = mapped_column(String(1024), unique=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(256))
    section: Mapped[str | None] = mapped_column(String(128), index=True)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    image_alt: Mapped[str | None] = mapped_column(String(512))
    published_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    # Where the source itself puts the piece: a post the site keeps at the top of its front
    # page (WordPress sticky), and the best place it held in its feed (0 the first; None when
    # the feed is in plain date order and so says nothing of prominence).
    sticky: Mapped[bool] = mapped_column(Boolean, default=False)
    feed_position: Mapped[int | None] = mapped_column(Integer)

    tags: Mapped[list[ArticleTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ArticleTag.tag"
    )
    stats: Mapped[ArticleStats | None] = relationship(
        cascade="all, delete-orphan", lazy="selectin", uselist=False
    )


class ArticleTag(Base):
    __tablename__ = "article_tags"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class ArticleStats(Base):
    __tablename__ = "article_stats"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    views: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    editor_pick: Mapped[bool] = mapped_column(Boolean, default=False)
    # seconds readers spent on the page over the week, from the analytics (None: not offered)
    engaged_seconds: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None]


class AnalyticsFetch(Base):
    """The last page-view fetch for a week, so the desk can say whether the figures are fresh."""

    __tablename__ = "analytics_fetches"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_key: Mapped[str] = mapped_column(String(16), unique=True)
    provider: Mapped[str] = mapped_column(String(16))
    fetched_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    pages: Mapped[int] = mapped_column(Integer, default=0)  # page rows the provider gave
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(Text)


class Digest(Base):
    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "period_key", name="uq_digests_newsletter_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", name="fk_digests_newsletter_id"),
        default=_DEFAULT_NEWSLETTER.scalar_subquery(),
    )
    # ISO week (2019-W04) for a weekly newsletter, a day (2019-01-21) for a daily one
    period_key: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # weekly (built by the schedule) or special (composed by an editor, key S20261202-1)
    kind: Mapped[str] = mapped_column(String(16), default="weekly", server_default="weekly")
    # a special edition's chosen send time; the tick starts it once approved and due
    scheduled_for: Mapped[datetime | None]
    subject: Mapped[str] = mapped_column(String(256), default="")
    preheader: Mapped[str] = mapped_column(String(256), default="")
    intro: Mapped[str] = mapped_column(Text, default="")
    status_reason: Mapped[str | None] = mapped_column(Text)
    vetoed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(320))
    send_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # The saved segment this issue goes to (None: every reader); see readers.segments.
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL", name="fk_digests_segment_id")
    )

    items: Mapped[list[DigestItem]] = relationship(
        cascade="all, delete-orphan", order_by="DigestItem.position", lazy="selectin"
    )
    newsletter: Mapped[Newsletter] = relationship(lazy="selectin")


class DigestItem(Base):
    """A frozen copy of a top story: what was previewed is what is sent."""

    __tablename__ = "digest_items"
    __table_args__ = (UniqueConstraint("digest_id", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    title: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(2048))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(256))
    section: Mapped[str | None] = mapped_column(String(128))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    image_alt: Mapped[str | None] = mapped_column(String(512))
    published_at: Mapped[datetime]

    related: Mapped[list[DigestRelated]] = relationship(
        cascade="all, delete-orphan", order_by="DigestRelated.position", lazy="selectin"
    )


class DigestRelated(Base):
    __tablename__ = "digest_related"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("digest_items.id", ondelete="CASCADE"), index=True
    )
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    title: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(2048))
    context: Mapped[str] = mapped_column(String(256), default="")
    published_at: Mapped[datetime]


class LedgerRow:
    """The columns the send engine's ledger reads and writes, shared by both ledger tables.

    `stamps_updates` says whether the table has an `updated_at` the ledger keeps current.
    """

    stamps_updates: ClassVar[bool] = False

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    handed_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Delivery(LedgerRow, Base):
    """One row per digest and subscriber: the ledger that makes sending exactly-once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("digest_id", "subscriber_id"),
        Index("ix_deliveries_drain", "digest_id", "status", "next_attempt_at"),
        Index("ix_deliveries_subscriber_id", "subscriber_id"),
    )

    stamps_updates = True

    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    message_id: Mapped[str | None] = mapped_column(String(255))  # given when first claimed
    updated_at: Mapped[datetime]


class OutboxMessage(LedgerRow, Base):
    """Transactional mail (confirmations, tests, notices), sent by the engine, not a request."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_drain", "status", "next_attempt_at"),)

    # a reader mail named by its templates/email/<kind>/ (confirm|links|welcome|data), test, notice
    kind: Mapped[str] = mapped_column(String(24))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(512))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None]
    message_id: Mapped[str] = mapped_column(String(255))  # written with the row


class Suppression(Base):
    """Addresses never to mail again; erased ones are kept only as a hash."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(24))  # bounce|complaint|unsubscribe|manual|erased
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(24))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(24))
    recipient_hash: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any] | None]
    # The digest message the event is about, when we can tell (see webhooks.apply).
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL", name="fk_webhook_events_delivery_id"),
        index=True,
    )


class Editor(Base):
    __tablename__ = "editors"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="editor")  # editor|viewer
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # Sessions carry the generation they were made in; logout and a new password bump it.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RelatedJudgment(Base):
    """An editor's word on one piece under one story: 1 related (added), 0 not (removed).
    `mailer related evaluate` measures related coverage against these choices."""

    __tablename__ = "related_judgments"
    __table_args__ = (UniqueConstraint("story_id", "related_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    related_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    grade: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(512), default="")
    actor: Mapped[str] = mapped_column(String(320))
    judged_at: Mapped[datetime]


class AuditEntry(Base):
    """Who changed what and when: digests, approvals, sends, suppressions."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), index=True)
    detail: Mapped[dict[str, Any] | None]


class JobRun(Base):
    """A scheduled job's slot, claimed once: two schedulers or a replayed tick do nothing twice."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    slot: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """A named lock with an expiry, stored where every process can see it."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    value: Mapped[dict[str, Any] | None]


class CaptchaSolution(Base):
    """An ALTCHA solution already accepted, so the same proof of work cannot be spent twice."""

    __tablename__ = "captcha_solutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ClickCount(Base):
    """Clicks on one digest link per day and source, machines' apart: one upsert per click.

    `kind` is story or related (`item_id` is then a digest_items or digest_related id) or
    open (`item_id` 0, opens only providers report). `via` is redirect or a provider's name.
    """

    __tablename__ = "click_counts"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    via: Mapped[str] = mapped_column(String(16), primary_key=True)
    clicks: Mapped[int] = mapped_column(Integer, default=0)  # people, as far as we can tell
    machine_head: Mapped[int] = mapped_column(Integer, default=0)  # HEAD requests
    machine_agent: Mapped[int] = mapped_column(Integer, default=0)  # scanner user agents
    machine_early: Mapped[int] = mapped_column(Integer, default=0)  # seconds after delivery
    machine_burst: Mapped[int] = mapped_column(Integer, default=0)  # many links in a second


class ReaderClick(Base):
    """Who clicked what, kept only when the operator chose per_reader click counting."""

    __tablename__ = "reader_clicks"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class Segment(Base):
    """A saved, named filter of readers a send may target; its rules follow a fixed schema
    (readers.segments), never SQL from the web."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    rules: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReaderSunset(Base):
    """Where a quiet reader is in sunsetting: `mailed` (the re-engagement mail is queued),
    `paused` (by sunsetting, not by the reader) or `resumed` (the reader came back); `at` is
    when that stage began. No row: never mailed."""

    __tablename__ = "reader_sunsets"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    mailed_at: Mapped[datetime]
