"""Commands every installation needs: config, db, serve, scheduler, demo."""

from __future__ import annotations

import atexit
import signal
import socket
import subprocess
import sys
from datetime import datetime

import click

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.console import console_logging, first_look
from mailer.cli.output import emit_json, table
from mailer.content.demo import archive_is_empty, load_demo
from mailer.core.config import render_env_example, unknown_variables
from mailer.core.db import current_revision, head_revision, upgrade
from mailer.core.errors import ConfigError, MailerError
from mailer.delivery import queue
from mailer.editions.digests import build_digest
from mailer.scheduler.jobs import run_forever, run_once


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--example", is_flag=True, help="Print the text of .env.example.")
@pass_app
def config_command(app: AppContext, as_json: bool, example: bool) -> None:
    """Show the effective settings, secrets masked."""
    if example:
        click.echo(render_env_example(), nl=False)
        return
    rows = app.settings.public_items()
    if as_json:
        emit_json({name: value for name, value, _ in rows})
        return
    # a MAILER_* name that is no setting is shown, value hidden, so a typo is seen
    rows += [(name, "(ignored)", sentence) for name, sentence in unknown_variables()]
    table(["variable", "value", "meaning"], rows)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Apply migrations; safe to run on every start."""

    db = app.services.db
    before = current_revision(db)
    upgrade(db)
    after = current_revision(db)
    if before == after:
        click.echo(f"Schema already at {after}.")
    else:
        click.echo(f"Schema upgraded from {before or 'empty'} to {after}.")
    if app.settings.queue == "procrastinate":
        queue.require_queue(app.settings, db)
        if queue.ensure_schema(db):
            click.echo("Queue tables installed.")


@db_group.command("current")
@pass_app
def db_current(app: AppContext) -> None:
    """Print the schema revision, and whether it is the newest."""

    db = app.services.db
    current, head = current_revision(db), head_revision(db)
    state = "up to date" if current == head else f"behind {head}: run `mailer db upgrade`"
    click.echo(f"{current or 'empty'} ({state})")
    if current != head:
        sys.exit(1)


def parse_now(value: str | None) -> datetime | None:
    """An ISO-8601 moment with a zone, for replaying the scheduler at a fixed time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO-8601, e.g. 2026-11-29T18:00:00+00:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a zone offset, e.g. 2026-11-29T18:00:00+00:00")
    return moment


@click.command("scheduler")
@click.option(
    "--once", is_flag=True, help="Run one tick, then fetch due sources, and exit (for cron)."
)
@click.option("--now", "now_text", help="With --once: the moment to tick at (ISO-8601 with zone).")
@pass_app
def scheduler_command(app: AppContext, once: bool, now_text: str | None) -> None:
    """Run the scheduler: exactly one per installation."""

    services = app.services
    upgrade(services.db)
    if once:
        now = parse_now(now_text) or services.now()
        for line in run_once(services, now):
            click.echo(line)
        return
    if now_text:
        raise click.UsageError("--now goes with --once")
    console_logging(services.settings.log_level)
    run_forever(services)


@click.command("serve")
@click.option("--host", help="Default: MAILER_HOST (127.0.0.1).")
@click.option("--port", type=int, help="Default: MAILER_PORT (5000).")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Serve pages only (a scheduler runs elsewhere).")
@pass_app
def serve_command(
    app: AppContext, host: str | None, port: int | None, threads: int, no_scheduler: bool
) -> None:
    """Run the embedded default: waitress for the web, plus one scheduler process."""
    from waitress import serve

    from app import create_app  # Flask only for this command: the CLI itself never loads it

    services = app.services
    host = host or services.settings.host
    port = port or services.settings.port
    check_port_free(host, port)
    upgrade(services.db)
    console_logging(services.settings.log_level)
    welcome = first_look(services, f"http://{host}:{port}", not no_scheduler)  # before a tick
    child = None
    if not no_scheduler:
        child = subprocess.Popen([sys.executable, "-m", "mailer", "scheduler"])

        def _stop_child(*_args) -> None:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

        atexit.register(_stop_child)
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    click.echo(f"Serving on http://{host}:{port} (scheduler: {'off' if no_scheduler else 'on'})")
    for line in welcome:
        click.echo(line)
    serve(create_app(services=services), host=host, port=port, threads=threads, ident="mailer")


def check_port_free(host: str, port: int) -> None:
    """Say which port is taken and how to choose another, before anything starts."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise MailerError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); another program may use "
            f"it. Choose another port: `make run PORT={port + 1}`, `mailer serve --port "
            f"{port + 1}` or MAILER_PORT={port + 1}."
        ) from None


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Load only when there are no articles yet.")
@click.option(
    "--build", is_flag=True, help="Also build this week's digest, for editors to preview."
)
@pass_app
def demo_command(app: AppContext, if_empty: bool, build: bool) -> None:
    """Load the demo archive: a few dozen articles over five weeks."""

    services = app.services
    upgrade(services.db)
    if if_empty and not archive_is_empty(services.db):
        click.echo("Articles already stored; demo not loaded.")
        return
    try:
        settings = services.settings
        created = load_demo(services.db, services.now(), settings.zone, settings.base_url)
    except FileNotFoundError as exc:
        raise ConfigError(f"the demo archive is missing: {exc.filename}") from None
    click.echo(f"Demo archive loaded: {created} new articles.")
    if build:
        result = build_digest(services.db, services.settings, services.now())
        click.echo(f"Digest {result.message}")


for _command in (config_command, db_group, scheduler_command, serve_command, demo_command):
    main.add_command(_command)
