"""The one scheduler process: a one-minute tick that is safe to run twice, late, or in parallel.

Every job keys its work on a slot (the ISO week, the ingest interval) claimed once in the
database, so DST changes, restarts, missed ticks and a second scheduler never repeat work.
Fetching sources is a job of its own, beside the tick, so a slow source never holds up
building or sending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from mailer.content.analytics.refresh import refresh_page_stats
from mailer.content.calendar import period_key
from mailer.content.sources.ingest import ingest_all
from mailer.core.models import Digest, OutboxMessage, Source
from mailer.delivery import engine, ledger
from mailer.delivery.ledger import enqueue_outbox
from mailer.delivery.queue import defer_due_work, delete_finished_jobs, nudge
from mailer.delivery.webhooks.apply import prune_events
from mailer.editions import digests, lifecycle, specials
from mailer.readers import privacy, sunset
from mailer.readers.links import new_message_id
from mailer.readers.newsletters import default_newsletter
from mailer.scheduler import newsletters as newsletter_jobs
from mailer.scheduler.slots import (
    claim_slot,
    finish_slot,
    interval_slot,
    last_fire_time,
    slot_claimed,
)
from mailer.scheduler.starts import start_claimed
from mailer.services import Services

log = logging.getLogger(__name__)

DRAIN_SECONDS = 40.0  # each tick sends for at most this long, so ticks keep their minute
GRACE = timedelta(days=6)  # a build or send missed by a longer outage waits for an operator


@dataclass(frozen=True)
class ScheduledJob:
    """One job of run_forever: its own thread and overlap guard, every `seconds`."""

    name: str
    run: Callable[[Services, datetime], list[str]]
    seconds: float


def scheduled_jobs(services: Services) -> list[ScheduledJob]:
    """What the scheduler runs side by side; ingesting is apart from building and sending."""
    return [
        ScheduledJob("tick", tick, 60.0),
        ScheduledJob("ingest", ingest_due, 60.0),
        ScheduledJob("outbox poll", poll_outbox, services.settings.outbox_poll_seconds),
    ]


def run_once(services: Services, now: datetime) -> list[str]:
    """One tick then the sources, for cron: a digest due now is sent before any fetch."""
    return tick(services, now) + _guarded(ingest_due, services, now)


def tick(services: Services, now: datetime) -> list[str]:
    """Build, send and drain whatever is due at `now` (never fetches); one line each."""
    done: list[str] = []
    for job in (_build, _send, _send_specials, _newsletters, _drain, _prune, _sunset):
        done.extend(_guarded(job, services, now))
    return done


def _newsletters(services: Services, now: datetime) -> list[str]:
    """Newsletters other than the default, each on its own cadence (scheduler.newsletters)."""
    return newsletter_jobs.run(services, now, notify_editors)


def _guarded(job: Callable[[Services, datetime], list[str]], services, now) -> list[str]:
    try:
        return job(services, now)
    except Exception as exc:  # one failing job must not stop the others
        log.exception("scheduler job %s failed", job.__name__)
        return [f"{job.__name__.strip('_')} failed: {exc}"]


def ingest_due(services: Services, now: datetime) -> list[str]:
    """Fetch the sources once per MAILER_INGEST_EVERY interval, each within its deadline."""
    settings = services.settings
    if not has_sources(services):
        return []
    slot = interval_slot(now, settings.ingest_every)
    if not claim_slot(services.db, "ingest", slot, now):
        return []
    reports = ingest_all(services.db, services.source_http, settings, now)
    summary = "; ".join(str(r) for r in reports)
    finish_slot(services.db, "ingest", slot, now, summary)
    return [f"ingest: {summary}"]


def has_sources(services: Services) -> bool:
    if services.settings.sources:
        return True
    with services.db.session() as session:
        return session.scalar(select(Source.id).limit(1)) is not None


def _prune(services: Services, now: datetime) -> list[str]:
    """Keep the promise to readers that IPs go after MAILER_IP_RETENTION_DAYS, delete provider
    events after MAILER_WEBHOOK_EVENT_DAYS and the queue's week-old finished jobs; daily, local."""
    day = now.astimezone(services.settings.zone).date().isoformat()
    if slot_claimed(services.db, "prune", day):  # a read, so no failed insert every minute
        return []
    if not claim_slot(services.db, "prune", day, now):
        return []
    dropped = privacy.prune_consent_ips(services.db, services.settings, now)
    events = prune_events(services.db, now, services.settings.webhook_event_days)
    if services.settings.queue == "procrastinate":
        delete_finished_jobs(services)
    summary = f"{dropped} consent IPs dropped"
    if events:
        summary += f", {events} webhook events deleted"
    finish_slot(services.db, "prune", day, now, summary)
    return [f"prune: {summary}"] if dropped or events else []


def _sunset(services: Services, now: datetime) -> list[str]:
    """With MAILER_SUNSET on (and per-reader clicks): once a day, mail the newly quiet readers
    and pause those still quiet after their mail; each reader once per cycle."""
    settings = services.settings
    if not settings.sunset or settings.click_tracking != "per_reader":
        return []
    day = now.astimezone(settings.zone).date().isoformat()
    if slot_claimed(services.db, "sunset", day) or not claim_slot(services.db, "sunset", day, now):
        return []
    done = sunset.run(services.db, settings, now)
    summary = f"{done.mail} re-engagement mails queued, {done.pause} readers paused"
    finish_slot(services.db, "sunset", day, now, summary)
    return [f"sunset: {summary}"] if done.mail or done.pause else []


def _build_period(services: Services, now: datetime) -> str | None:
    """The week whose build time passed within GRACE: the tick builds it once."""
    settings = services.settings
    fire = last_fire_time(settings.build_at, settings.zone, now)
    if fire is None or now - fire > GRACE:
        return None
    return period_key(fire, settings.zone)


def build_due(services: Services, now: datetime) -> str | None:
    """The week the next tick will build (not built, nor claimed yet), to tell a newcomer."""
    period = _build_period(services, now)
    if period is None or slot_claimed(services.db, "build", period):
        return None
    with services.db.session() as session:
        built = session.scalar(select(Digest.id).where(*_default_issue(session, period)))
    return None if built is not None else period


def _default_issue(session, period: str) -> tuple:
    """The default newsletter's issue of a period: the one MAILER_BUILD_AT and _SEND_AT time."""
    owner = default_newsletter(session).id
    return Digest.period_key == period, Digest.newsletter_id == owner


def _build(services: Services, now: datetime) -> list[str]:
    settings = services.settings
    period = _build_period(services, now)
    if period is None or not claim_slot(services.db, "build", period, now):
        return []
    views = _refresh_views(services, period, now)
    result = digests.build_digest(services.db, settings, now, period=period)
    finish_slot(services.db, "build", period, now, result.message)
    if result.outcome == "too_few":
        digests.record_skipped(services.db, period, result.message, now)
        notify_editors(services, now, f"{period} skipped: too little content", result.message)
    elif result.outcome == "too_big":
        notify_editors(
            services, now, f"{period} not built: too big for mail clients", result.message
        )
    elif result.outcome == "created":
        link = f"{settings.base_url.rstrip('/')}/admin/digests/{result.digest_id}"
        figures = "".join(f"{line}\n\n" for line in views)  # fresh page views, or why not
        notify_editors(
            services,
            now,
            f"{period} is ready for review",
            f"{result.message}\n\n{figures}Preview, adjust and approve it here:\n{link}\n\n"
            + (
                "It will be sent automatically unless you veto it."
                if settings.auto_approve
                else "It will be sent only once approved."
            ),
        )
    return [*views, f"build: {result.message}"]


def _refresh_views(services: Services, period: str, now: datetime) -> list[str]:
    """Fresh page views for the week before ranking it; a failing provider only says so."""
    try:
        report = refresh_page_stats(services.db, services.http, services.settings, period, now)
    except Exception:  # the build goes on with the figures already stored
        log.exception("analytics fetch for %s failed", period)
        return [f"analytics: the fetch for {period} failed; ranked on the stored figures"]
    if report is None:
        return []
    if not report.ok:
        log.warning("analytics: %s", report)
        return [f"analytics: {report}; ranked on the stored figures"]
    return [f"analytics: {report}"]


def _period_to_send(services: Services, send_fire: datetime) -> str | None:
    """The week whose build came last before this send time."""
    settings = services.settings
    build_fire = last_fire_time(settings.build_at, settings.zone, send_fire)
    return period_key(build_fire, settings.zone) if build_fire else None


def _send(services: Services, now: datetime) -> list[str]:
    settings = services.settings
    fire = last_fire_time(settings.send_at, settings.zone, now)
    if fire is None or now - fire > GRACE:
        return []
    period = _period_to_send(services, fire)
    if period is None:
        return []
    with services.db.session() as session:
        digest = session.scalar(select(Digest).where(*_default_issue(session, period)))
    if digest is None:
        return []
    if digest.status == "draft" and settings.auto_approve and not digest.vetoed:
        lifecycle.approve(services.db, settings, digest.id, "scheduler (auto-approve)", now)
        digest.status = "approved"
    if digest.status == "draft":
        if claim_slot(services.db, "hold", period, now):
            notify_editors(
                services,
                now,
                f"{period} is on hold: not approved",
                f"It was due to go out at {fire.astimezone(settings.zone):%A %H:%M}. "
                "It will start within a minute of being approved.",
            )
            return [f"send: {period} held, not approved"]
        return []
    if digest.status == "approved" and claim_slot(services.db, "send", period, now):
        command = f"mailer digest send {period}"
        outcome = start_claimed(services, digest.id, now, period, command, notify_editors)
        return [f"send: {period} {outcome}"]
    return []


def _send_specials(services: Services, now: datetime) -> list[str]:
    """Start each approved special edition whose chosen time came (within GRACE), once per time
    set; tell the editors once when one is due and still a draft."""
    done = []
    for digest in specials.due_specials(services.db, now, now - GRACE):
        key = digest.period_key
        slot = f"{key}@{digest.scheduled_for:%Y-%m-%dT%H:%M}"  # a new time is a new slot
        if digest.status == "draft":
            if claim_slot(services.db, "hold", slot, now):
                notify_editors(
                    services,
                    now,
                    f"{key} is on hold: not approved",
                    f"The special edition “{digest.subject}” was due to go out at "
                    f"{digest.scheduled_for.astimezone(services.settings.zone):%A %H:%M}. "
                    "It will start within a minute of "
                    "being approved.",
                )
                done.append(f"send: {key} held, not approved")
            continue
        if not claim_slot(services.db, "send", slot, now):
            continue
        command = f"mailer digest send {key}"
        outcome = start_claimed(services, digest.id, now, key, command, notify_editors)
        done.append(f"send: {key} {outcome}")
    return done


def poll_outbox(services: Services, now: datetime) -> list[str]:
    """Between ticks: send (or queue for the workers) outbox mail that is due, so a reader's
    confirmation does not wait for the minute's tick; one cheap query when nothing waits."""
    if not ledger.has_due(services.db, OutboxMessage, now):
        return []
    if services.settings.queue == "procrastinate":
        nudge(services)
        return ["outbox: queued for the workers"]
    report = engine.drain_outbox(
        services.db,
        services.settings,
        services.new_transport,
        services.clock,
        time_budget=DRAIN_SECONDS,
    )
    return [f"outbox: {report.sent} sent, {report.failed} failed"] if report.sent else []


def _drain(services: Services, now: datetime) -> list[str]:
    """Send the outbox, then a bounded share of every digest that is sending."""
    lines = []
    settings = services.settings
    if settings.queue == "procrastinate":
        return defer_due_work(services)  # workers drain; the scheduler only decides
    outbox = engine.drain_outbox(
        services.db, settings, services.new_transport, services.clock, time_budget=DRAIN_SECONDS
    )
    if outbox.sent or outbox.failed:
        lines.append(f"outbox: {outbox.sent} sent, {outbox.failed} failed")
    with services.db.session() as session:
        sending = session.scalars(select(Digest.id).where(Digest.status == "sending")).all()
    for digest_id in sending:
        report = engine.send_digest(
            services.db,
            settings,
            digest_id,
            services.new_transport,
            services.clock,
            time_budget=DRAIN_SECONDS,
        )
        lines.append(
            f"digest {digest_id}: {report.sent} sent, {report.failed} failed"
            + (" (done)" if report.done else "")
            + (f" paused: {report.paused}" if report.paused else "")
        )
    return lines


def notify_editors(services: Services, now: datetime, subject: str, body: str) -> int:
    """A plain notice to every address in MAILER_EDITOR_EMAILS, through the outbox."""
    settings = services.settings
    for address in settings.editor_emails:
        enqueue_outbox(
            services.db,
            kind="notice",
            recipient=address,
            subject=f"[{settings.list_name}] {subject}",
            text=body + "\n",
            html=None,
            message_id=new_message_id(settings),
            now=now,
        )
    return len(settings.editor_emails)


def run_forever(services: Services) -> None:
    """Tick every minute until stopped; APScheduler 3 keeps the cadence and skips overlaps."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=services.settings.zone)

    def logged(label: str, job: Callable[[Services, datetime], list[str]]) -> Callable[[], None]:
        def run() -> None:
            for line in _guarded(job, services, services.now()):
                log.info("%s: %s", label, line)

        return run

    every = {"max_instances": 1, "coalesce": True}  # a slow run is never doubled
    for job in scheduled_jobs(services):  # each in a thread of the scheduler's pool
        scheduler.add_job(
            logged(job.name, job.run),
            "interval",
            seconds=job.seconds,
            id=job.name,
            next_run_time=services.now(),
            **every,
        )
    log.info("scheduler started")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
