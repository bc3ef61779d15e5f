"""`mailer worker` (one queue worker) and `mailer workers` (who is sending, and what)."""

from __future__ import annotations

import logging
import signal

import click

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.output import emit_json, table
from mailer.core.db import current_revision, head_revision
from mailer.core.errors import ConfigError
from mailer.delivery import queue
from mailer.delivery.heartbeats import Heartbeat, list_workers, new_worker_name
from mailer.delivery.queue import queue_counts
from mailer.delivery.ratelimit import pause_remaining


@main.command("worker")
@click.option("--name", help="How this worker shows in `mailer workers` (default: host-pid).")
@pass_app
def worker_command(app: AppContext, name: str | None) -> None:
    """Drain digests and the outbox from the PostgreSQL queue; run as many as you like."""

    services = app.services
    queue.require_queue(services.settings, services.db)
    current, head = current_revision(services.db), head_revision(services.db)
    if current != head:  # many hosts must not race to migrate: one `db upgrade` does it
        raise ConfigError(
            f"the database schema is at {current or 'nothing'}, not {head}: "
            "run `mailer db upgrade` once, then start the workers"
        )
    queue.ensure_schema(services.db)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    heartbeat = Heartbeat(services.db, name or new_worker_name(), services.clock)
    # until procrastinate installs its own handlers, a SIGTERM is a clean stop too
    signal.signal(signal.SIGTERM, _stop_before_start)
    worker_app = queue.build_queue(services, heartbeat)
    try:
        heartbeat.start()
        click.echo(f"Worker {heartbeat.name} started; stop it with Ctrl-C or SIGTERM.")
        worker_app.run_worker(
            name=heartbeat.name,
            concurrency=1,  # a job sends with MAILER_SEND_CONCURRENCY threads of its own
            delete_jobs="successful",
            shutdown_graceful_timeout=services.settings.worker_job_seconds + 30,
        )
    finally:
        heartbeat.stop()
    click.echo(f"Worker {heartbeat.name} stopped.")


def _stop_before_start(signum, frame) -> None:
    raise SystemExit(0)


@main.command("workers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def workers_command(app: AppContext, as_json: bool) -> None:
    """The workers seen in the last hour, what each is doing, and the queue's jobs."""

    services = app.services
    now = services.now()
    workers = list_workers(services.db, now)
    jobs: dict[str, int] = {}
    if services.db.dialect == "postgresql":
        jobs = queue_counts(services.db)
    if as_json:
        emit_json({"workers": [w.__dict__ for w in workers], "jobs": jobs})
        return
    if not workers:
        click.echo("No worker has been seen in the last hour.")
    else:
        table(
            ["worker", "host", "pid", "state", "last seen", "doing", "sent"],
            [
                (
                    w.name,
                    w.host,
                    w.pid,
                    "live" if w.alive else "gone",
                    f"{max(0, int((now - w.seen_at).total_seconds()))} s ago",
                    w.doing if w.alive else "(stopped beating)",
                    w.sent,
                )
                for w in workers
            ],
        )
    if jobs:
        click.echo("Jobs: " + ", ".join(f"{n} {status}" for status, n in sorted(jobs.items())))
    paused = pause_remaining(services.db)
    if paused is not None:
        click.echo(
            f"Sending is paused for {paused.total_seconds():.0f} s more: a provider said 429."
        )
