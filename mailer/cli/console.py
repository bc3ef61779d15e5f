"""What `mailer serve` and `mailer scheduler` print: the scheduler's work as log lines, and
after start-up the first things to open."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from mailer.core.models import Editor
from mailer.scheduler.jobs import build_due
from mailer.services import Services

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def console_logging(level: str) -> None:
    """Log lines on the console at MAILER_LOG_LEVEL; APScheduler's per-run chatter left out."""
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    logging.getLogger().setLevel(level)  # also when a handler was there before
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def mail_folder(services: Services) -> str | None:
    """Where mail lands when MAILER_TRANSPORT writes files, else None."""
    if not services.settings.transport.startswith("file://"):
        return None
    folder = getattr(services.transport, "folder", None)
    return str(folder) if folder is not None else None


def first_look(services: Services, url: str, scheduler: bool) -> list[str]:
    """The few steps of the README's first look, with this server's own addresses."""
    with services.db.session() as session:
        editors = session.scalar(select(func.count()).select_from(Editor)) or 0
    lines = [
        "A first look:",
        f"  readers join at    {url}/join  (the same form for an iframe: {url}/embed/join)",
        f"  editors sign in at {url}/admin"
        + ("" if editors else "  (no account yet: `mailer editors add you@example.com`)"),
        f"  sent issues are at {url}/archive",
    ]
    folder = mail_folder(services)
    if folder:
        lines.append(f"  mail is written to {folder}/  (one .eml file per message, nothing sent)")
    if scheduler:
        due = build_due(services, services.now())
        if due:
            lines.append(
                f"  within a minute the scheduler builds {due}: its build time (MAILER_BUILD_AT) "
                "passed less than six days ago"
            )
        lines.append("  the scheduler's work (builds, sends, mail written) is logged below")
    lines.append("Stop with Ctrl+C.")
    return lines
