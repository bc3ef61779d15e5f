"""The one scheduler process: a one-minute tick that is safe to run twice."""

from __future__ import annotations

import logging
from datetime import datetime

from mailer.services import Services

log = logging.getLogger(__name__)


def tick(services: Services, now: datetime) -> list[str]:
    """Do whatever is due at `now`; returns what it did, one line each."""
    done: list[str] = []
    return done


def run_forever(services: Services) -> None:
    """Tick every minute until stopped; APScheduler 3 keeps the cadence and skips overlaps."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=services.settings.zone)

    def _job() -> None:
        try:
            for line in tick(services, services.now()):
                log.info("tick: %s", line)
        except Exception:
            log.exception("tick failed; the next one will try again")

    scheduler.add_job(
        _job,
        "interval",
        minutes=1,
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=services.now(),
    )
    log.info("scheduler started")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
