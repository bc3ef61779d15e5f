"""`mailer digest send|status|pause|resume|cancel|retry|approve` and `mailer outbox send|list`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn
from rich.text import Text
from sqlalchemy import select

from mailer.cli.base import AppContext, pass_app
from mailer.cli.groups import digest_group, outbox_group
from mailer.cli.newsletters import chosen_newsletter, newsletter_option
from mailer.cli.output import emit_json, is_terminal, table
from mailer.core.errors import MailerError
from mailer.core.models import Delivery, OutboxMessage
from mailer.delivery import engine, ledger, precheck, queue
from mailer.delivery.engine import drain_outbox
from mailer.delivery.status import FEEDBACK_WORDS, awaiting_feedback, digest_status
from mailer.editions import lifecycle
from mailer.editions.digests import find_digest


def _digest_id(app: AppContext, ref: str) -> int:

    return find_digest(app.services.db, ref, chosen_newsletter()).id


@digest_group.command("approve")
@newsletter_option
@click.argument("ref")
@click.option("--as", "actor", default="cli", show_default=True, help="Who approves.")
@pass_app
def digest_approve(app: AppContext, ref: str, actor: str) -> None:
    """Approve a draft for sending."""
    services = app.services
    lifecycle.approve(services.db, services.settings, _digest_id(app, ref), actor, services.now())
    click.echo(f"{ref} approved.")


@digest_group.command("send")
@newsletter_option
@click.argument("ref")
@click.option("--dry-run", is_flag=True, help="Count who would get it; send nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many messages.")
@click.option(
    "--here",
    is_flag=True,
    help="With MAILER_QUEUE=procrastinate: send from this process instead of queueing the job.",
)
@pass_app
def digest_send(app: AppContext, ref: str, dry_run: bool, limit: int | None, here: bool) -> None:
    """Send an approved digest; run again to resume where it stopped.

    With the procrastinate queue on, the job is handed to `mailer worker`s (unless --here).
    """

    services = app.services
    digest_id = _digest_id(app, ref)
    if dry_run:
        _dry_run(services, digest_id)
        return
    precheck.start_send(
        services.db, services.settings, digest_id, services.transport, "cli", services.now()
    )
    if queue.uses_queue(services) and not here and limit is None:
        period = find_digest(services.db, digest_id).period_key
        queued = queue.queue_digest(services, digest_id)
        click.echo(
            f"{period} {'is queued' if queued else 'was already queued'} for the workers. "
            f"Follow it with `mailer digest status {period}` or `mailer workers`; "
            "`--here` sends from this process instead."
        )
        return
    ledger.materialise(services.db, digest_id, services.now())
    state = digest_status(services.db, digest_id, services.now())
    total = sum(state.counts.values()) or None
    done = sum(v for k, v in state.counts.items() if k not in ("pending", "sending"))

    def run(on_progress):
        return engine.send_digest(
            services.db,
            services.settings,
            digest_id,
            services.new_transport,
            services.clock,
            limit=limit,
            on_progress=on_progress,
        )

    try:
        if is_terminal():

            def time_left() -> float | None:
                return digest_status(services.db, digest_id, services.now()).eta_seconds

            with _progress_bar(total, done, time_left) as advance:
                report = run(advance)
        else:
            report = run(_plain_progress(done, total))
    except KeyboardInterrupt:
        period = find_digest(services.db, digest_id).period_key
        counts = ledger.counts(services.db, Delivery, [Delivery.digest_id == digest_id])
        click.echo(
            f"Interrupted. Messages in flight were finished and recorded, the rest given back "
            f"(totals: {_fmt(counts)}). Resume with: mailer digest send {period}",
            err=True,
        )
        raise SystemExit(130) from None
    counts = ledger.counts(services.db, Delivery, [Delivery.digest_id == digest_id])
    click.echo(
        f"{report.sent} sent, {report.failed} failed, {report.unknown} unknown, "
        f"{report.skipped} skipped, {report.retrying} to retry in this run. "
        f"Totals: {_fmt(counts)}."
    )
    if report.paused:
        click.echo(f"Paused: {report.paused}", err=True)
        raise SystemExit(1)
    click.echo(
        "Done: every subscriber is settled."
        if report.done
        else "Not finished: run the same command again to resume."
    )


class _TimeLeft(ProgressColumn):
    """The time left as `digest status` computes it, so the bar and the status agree."""

    max_refresh = 2.0  # one small query every two seconds at most

    def __init__(self, time_left: Callable[[], float | None]) -> None:
        super().__init__()
        self.time_left = time_left

    def render(self, task) -> Text:
        seconds = self.time_left()
        if seconds is None:
            return Text("-:--:--")
        return Text(str(timedelta(seconds=round(seconds))))


@contextmanager
def _progress_bar(total: int | None, done: int, time_left: Callable[[], float | None]):
    with Progress("sending", BarColumn(), MofNCompleteColumn(), _TimeLeft(time_left)) as bar:
        task = bar.add_task("send", total=total, completed=done)
        yield lambda n: bar.advance(task, n)


def _plain_progress(done: int, total: int | None):
    """One line every ten seconds when the output is piped to a file or a log."""

    state = {"done": done, "last": time.monotonic()}
    lock = threading.Lock()

    def note(count: int) -> None:
        with lock:
            state["done"] += count
            if time.monotonic() - state["last"] >= 10:
                state["last"] = time.monotonic()
                click.echo(f"{state['done']} of {total or '?'} settled")

    return note


def feedback_line(feedback: dict[str, int], transport: str) -> str:

    words = [f"{FEEDBACK_WORDS[k]} {feedback[k]}" for k in FEEDBACK_WORDS if feedback.get(k)]
    return ", ".join(words) or awaiting_feedback(transport)


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _dry_run(services, digest_id: int) -> None:

    count = ledger.digest_reader_count(services.db, digest_id)
    click.echo(f"Dry run: {count} subscribers would get this digest. Nothing was sent.")


@digest_group.command("status")
@newsletter_option
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def digest_status_command(app: AppContext, ref: str, as_json: bool) -> None:
    """Counts per delivery state, the current rate and the time left."""

    status = digest_status(app.services.db, _digest_id(app, ref), app.services.now())
    if as_json:
        emit_json(status.__dict__)
        return
    click.echo(
        f"{status.period_key}: {status.status}" + (f" ({status.reason})" if status.reason else "")
    )
    table(["state", "messages"], sorted(status.counts.items()))
    eta = f"{status.eta_seconds / 60:.1f} min" if status.eta_seconds else "-"
    click.echo(f"rate {status.rate_per_minute:.1f}/min, time left {eta}")
    transport = app.services.settings.transport
    click.echo(f"provider feedback: {feedback_line(status.feedback, transport)}")


@digest_group.command("pause")
@newsletter_option
@click.argument("ref")
@pass_app
def digest_pause(app: AppContext, ref: str) -> None:
    """Stop a running send after the messages in flight."""
    digest = lifecycle.pause(
        app.services.db, _digest_id(app, ref), "cli", app.services.now(), "paused by an operator"
    )
    click.echo(f"{digest.period_key} is now {digest.status}.")


@digest_group.command("resume")
@newsletter_option
@click.argument("ref")
@pass_app
def digest_resume(app: AppContext, ref: str) -> None:
    """Allow a paused digest to send again (then run `digest send`)."""
    digest = lifecycle.resume(app.services.db, _digest_id(app, ref), "cli", app.services.now())
    click.echo(f"{digest.period_key} is now {digest.status}.")


@digest_group.command("cancel")
@newsletter_option
@click.argument("ref")
@pass_app
def digest_cancel(app: AppContext, ref: str) -> None:
    """Give up on a digest; nothing more of it is sent."""
    digest = lifecycle.cancel(
        app.services.db, _digest_id(app, ref), "cli", app.services.now(), "cancelled by an operator"
    )
    click.echo(f"{digest.period_key} is now {digest.status}.")


@digest_group.command("retry")
@newsletter_option
@click.argument("ref")
@click.option("--failed", "which", flag_value="failed", help="Retry failed deliveries.")
@click.option(
    "--unknown",
    "which",
    flag_value="unknown",
    help="Retry deliveries whose fate is unknown (may duplicate a few).",
)
@pass_app
def digest_retry(app: AppContext, ref: str, which: str | None) -> None:
    """Queue failed or unknown deliveries again; then run `digest send`."""

    if which is None:
        raise click.UsageError("say which: --failed or --unknown")
    services = app.services
    digest_id = _digest_id(app, ref)
    count = ledger.reset(services.db, digest_id, which, services.now())
    if count:
        lifecycle.reopen(services.db, digest_id, "cli", services.now())
    click.echo(f"{count} {which} deliveries queued again.")


@outbox_group.command("send")
@pass_app
def outbox_send(app: AppContext) -> None:
    """Send queued confirmation, test and notice mail now."""

    services = app.services
    report = drain_outbox(services.db, services.settings, services.new_transport, services.clock)
    click.echo(
        f"{report.sent} sent, {report.failed} failed, {report.unknown} unknown, "
        f"{report.retrying} to retry, {report.skipped} skipped."
    )
    if report.paused:
        raise MailerError(report.paused)


@outbox_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--status", help="Only this state (pending, sent, failed, unknown, skipped).")
@pass_app
def outbox_list(app: AppContext, as_json: bool, status: str | None) -> None:
    """Queued and recent transactional mail."""

    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    if status:
        query = query.where(OutboxMessage.status == status)
    with app.services.db.session() as session:
        rows = [
            {
                "id": m.id,
                "kind": m.kind,
                "to": m.recipient,
                "status": m.status,
                "attempts": m.attempts,
                "created_at": m.created_at.isoformat(),
                "error": m.last_error,
            }
            for m in session.scalars(query)
        ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["id", "kind", "to", "status", "attempts", "error"],
        [(r["id"], r["kind"], r["to"], r["status"], r["attempts"], r["error"] or "") for r in rows],
    )
