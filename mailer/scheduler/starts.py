"""Starting a send the schedule claimed: a weekly digest, another newsletter's issue, a special."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mailer.delivery.precheck import Blocked, start_send
from mailer.services import Services

Notify = Callable[[Services, datetime, str, str], int]


def start_claimed(
    services: Services, digest_id: int, now: datetime, name: str, command: str, notify: Notify
) -> str:
    """Start the send whose slot was just claimed, or, when the pre-send check blocks it, tell
    the editors once (the slot is spent) how to send it after fixing; the outcome in words."""
    try:
        start_send(services.db, services.settings, digest_id, services.transport, "scheduler", now)
    except Blocked as exc:
        notify(
            services,
            now,
            f"{name} is on hold: the pre-send check found errors",
            f"{exc} Fix them, then send it with Send now on the desk or `{command}`.",
        )
        return "blocked by the pre-send check"
    return "started"
