"""Sending beyond one machine: procrastinate jobs on PostgreSQL, drained by `mailer worker`s.

The scheduler only defers; workers run the same engine (mailer.delivery.engine) that the embedded
default runs in the scheduler. A digest job first defers one sibling (a queueing lock keeps
at most one waiting), so every idle worker joins in, and one started mid-run finds work.
Each job sends for at most MAILER_WORKER_JOB_SECONDS, then hands on to a fresh job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import exists, select, text
from sqlalchemy.engine import make_url

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import ConfigError, Conflict
from mailer.core.models import Digest, OutboxMessage
from mailer.delivery import engine

if TYPE_CHECKING:
    import procrastinate

    from mailer.delivery.heartbeats import Heartbeat
    from mailer.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

DIGEST_TASK = "mailer.send_digest"
OUTBOX_TASK = "mailer.send_outbox"
SCHEMA_LOCK = 7_311_001  # pg_advisory_xact_lock key: one process installs the queue's tables
# A worker beats every 10 s (procrastinate's default); one silent this long is dead, and the
# job it held can never finish. The ledger's leases already free the rows it had claimed.
STALLED_AFTER_SECONDS = 120
FINISHED_JOBS_KEPT_HOURS = 7 * 24


def require_queue(settings: Settings, db: Database) -> None:
    """Workers need the procrastinate queue on PostgreSQL; say so in one sentence otherwise."""
    if settings.queue != "procrastinate":
        raise ConfigError(
            "workers need MAILER_QUEUE=procrastinate (with MAILER_QUEUE=none the scheduler sends)"
        )
    if db.dialect != "postgresql":
        raise ConfigError(
            "workers need PostgreSQL: set MAILER_DATABASE_URL to a postgresql:// URL "
            "(the embedded SQLite default sends from the scheduler)"
        )
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the queue needs the postgres extra: pip install 'newsletter-mailer[postgres]'"
        ) from None


def conninfo(db: Database) -> str:
    """The libpq form of MAILER_DATABASE_URL, for procrastinate's own connection pool."""
    url = make_url(db.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def ensure_schema(db: Database) -> bool:
    """Install procrastinate's tables once; returns whether it did. Safe from many hosts."""
    import procrastinate

    with db.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")):
            return False
        app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(db)))
        with app.open():
            app.schema_manager.apply_schema()
    return True


def build_queue(services: Services, heartbeat: Heartbeat | None = None) -> procrastinate.App:
    """The procrastinate app with our two tasks; the scheduler and every worker build the same."""
    import procrastinate

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(services.db))
    )

    @app.task(name=DIGEST_TASK)
    def send_digest_job(digest_id: int) -> str:
        return run_digest_job(services, app, digest_id, heartbeat)

    @app.task(name=OUTBOX_TASK)
    def send_outbox_job() -> str:
        return run_outbox_job(services, heartbeat)

    return app


def defer_digest(app: procrastinate.App, digest_id: int) -> bool:
    """Queue one job for the digest unless one is waiting already; True if it queued one."""
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        app.configure_task(DIGEST_TASK, queueing_lock=f"digest-{digest_id}").defer(
            digest_id=digest_id
        )
    except AlreadyEnqueued:
        return False
    return True


def defer_outbox(app: procrastinate.App) -> bool:
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        app.configure_task(OUTBOX_TASK, queueing_lock="outbox").defer()
    except AlreadyEnqueued:
        return False
    return True


def defer_due_work(services: Services) -> list[str]:
    """The scheduler's part: a job for the outbox if mail waits, one for each sending digest."""
    db = services.db
    lines = []
    reaped = reap_stalled_jobs(services)
    if reaped:
        lines.append(f"queue: {reaped} job(s) of stopped workers marked failed")
    with db.session() as session:
        sending = session.scalars(select(Digest.id).where(Digest.status == "sending")).all()
        outbox_waits = session.scalar(select(exists().where(OutboxMessage.status == "pending")))
    if not sending and not outbox_waits:
        return lines
    return lines + _defer(services, sending, outbox_waits)


def _defer(services: Services, digest_ids: list[int], outbox: bool) -> list[str]:
    lines = []
    app = build_queue(services)
    with app.open():
        if outbox and defer_outbox(app):
            lines.append("outbox: queued for the workers")
        for digest_id in digest_ids:
            if defer_digest(app, digest_id):
                lines.append(f"digest {digest_id}: queued for the workers")
    return lines


def uses_queue(services: Services) -> bool:
    """Whether sending belongs to `mailer worker`s (the procrastinate queue on PostgreSQL)."""
    return services.settings.queue == "procrastinate" and services.db.dialect == "postgresql"


def queue_digest(services: Services, digest_id: int) -> bool:
    """Hand a sending digest to the workers now; False when a job for it already waits."""
    return bool(_defer(services, [digest_id], False))


def nudge(services: Services, digest_id: int | None = None) -> None:
    """Queue a job for work just started (an editor's send, a test mail), so a worker starts at
    once rather than at the scheduler's next tick; the tick would do it, so failures only log."""
    if not uses_queue(services):
        return
    try:
        _defer(services, [digest_id] if digest_id is not None else [], digest_id is None)
    except Exception:
        log.warning("could not queue a job now; the scheduler's next tick will", exc_info=True)


def run_digest_job(
    services: Services, app: procrastinate.App, digest_id: int, heartbeat: Heartbeat | None
) -> str:
    """One worker's share of a digest: send for a while, then leave the rest to a fresh job."""
    db, settings = services.db, services.settings
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        status, period = (digest.status, digest.period_key) if digest else ("gone", "?")
    if status != "sending":
        return f"digest {digest_id} is {status}: nothing to send"
    defer_digest(app, digest_id)  # so an idle worker joins in
    if heartbeat is not None:
        heartbeat.set_doing(f"sending {period} (digest {digest_id})")
    try:
        report = engine.send_digest(
            db,
            settings,
            digest_id,
            services.new_transport,
            services.clock,
            time_budget=settings.worker_job_seconds,
            on_progress=heartbeat.add_sent if heartbeat is not None else None,
        )
    except Conflict as exc:  # paused or cancelled between the check and the start
        return str(exc)
    finally:
        if heartbeat is not None:
            heartbeat.set_doing("idle")
    if not report.done and not report.paused:
        defer_digest(app, digest_id)
    return (
        f"digest {digest_id}: {report.sent} sent, {report.failed} failed, "
        f"{report.unknown} unknown" + (" (done)" if report.done else "")
    )


def run_outbox_job(services: Services, heartbeat: Heartbeat | None) -> str:
    if heartbeat is not None:
        heartbeat.set_doing("sending the outbox")
    try:
        report = engine.drain_outbox(
            services.db,
            services.settings,
            services.new_transport,
            services.clock,
            time_budget=services.settings.worker_job_seconds,
        )
    finally:
        if heartbeat is not None:
            heartbeat.set_doing("idle")
    return f"outbox: {report.sent} sent, {report.failed} failed"


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """procrastinate's job manager is async only; run it on a loop of its own thread, since the
    caller's thread may already run one (a test's browser, a future async scheduler)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def reap_stalled_jobs(services: Services, after_seconds: float = STALLED_AFTER_SECONDS) -> int:
    """Mark the jobs of workers that stopped beating as failed and forget those workers, so
    `mailer workers` does not show them as running for ever; returns how many jobs."""
    from procrastinate.jobs import Status

    async def reap() -> int:
        app = build_queue(services)
        async with app.open_async():
            manager = app.job_manager
            stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=after_seconds))
            for job in stalled:
                await manager.finish_job(job, Status.FAILED, delete_job=False)
                log.warning("job %s (%s) failed: its worker stopped beating", job.id, job.task_name)
            await manager.prune_stalled_workers(seconds_since_heartbeat=after_seconds)
            return len(stalled)

    return _run_coroutine(reap)


def delete_finished_jobs(services: Services, hours: int = FINISHED_JOBS_KEPT_HOURS) -> None:
    """Every job hands on to a fresh one, so finished jobs pile up; keep a week for looking."""

    async def delete() -> None:
        app = build_queue(services)
        async with app.open_async():
            await app.job_manager.delete_old_jobs(
                nb_hours=hours, include_failed=True, include_cancelled=True, include_aborted=True
            )

    _run_coroutine(delete)


def queue_counts(db: Database) -> dict[str, int]:
    """Jobs per procrastinate status, for `mailer workers`; empty before the queue exists."""
    with db.engine.connect() as conn:
        if not conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")):
            return {}
        rows = conn.execute(
            text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")
        ).all()
        conn.rollback()
    return {str(status): int(count) for status, count in rows}
