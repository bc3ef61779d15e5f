"""The scheduler's work for newsletters other than the default: each builds and sends on its own
cadence (a day and hour for a weekly one, an hour for a daily one; never for a manual one).

The default newsletter keeps MAILER_BUILD_AT and MAILER_SEND_AT (scheduler.jobs). Here an issue
is built at its newsletter's hour, and sent then when MAILER_AUTO_APPROVE is on, or within a
minute of an editor's approval. Slots are named `slug:period`, so each is claimed once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from mailer.content.calendar import day_key, period_key
from mailer.core.models import Digest, Newsletter
from mailer.editions import digests, lifecycle
from mailer.readers.newsletters import DAYS
from mailer.scheduler.slots import claim_slot, finish_slot, last_fire_time
from mailer.scheduler.starts import start_claimed
from mailer.services import Services

DEFAULT_HOUR = 7  # when a newsletter names no hour
Notify = Callable[[Services, datetime, str, str], int]


def crontab(newsletter: Newsletter) -> str | None:
    """When the newsletter's issue is due, as a crontab in the site's zone; None for manual."""
    hour = DEFAULT_HOUR if newsletter.send_hour is None else newsletter.send_hour
    if newsletter.cadence == "daily":
        return f"0 {hour} * * *"
    if newsletter.cadence == "weekly":
        day = DAYS[newsletter.send_day] if newsletter.send_day is not None else "mon"
        return f"0 {hour} * * {day}"
    return None


def due_issue(newsletter: Newsletter, services: Services, now: datetime) -> str | None:
    """The period whose moment passed within its grace (a day, or six for a weekly one), since
    the newsletter was added."""
    cron = crontab(newsletter)
    if cron is None:
        return None
    zone = services.settings.zone
    fire = last_fire_time(cron, zone, now)
    grace = timedelta(days=1) if newsletter.cadence == "daily" else timedelta(days=6)
    if fire is None or now - fire > grace or fire < newsletter.created_at:
        return None  # long missed, or due before the newsletter existed
    return day_key(fire, zone) if newsletter.cadence == "daily" else period_key(fire, zone)


def run(services: Services, now: datetime, notify: Notify) -> list[str]:
    """Build and send every scheduled newsletter's due issue; one line per thing done."""
    with services.db.session() as session:
        scheduled = session.scalars(
            select(Newsletter).where(
                Newsletter.is_default.is_(False), Newsletter.cadence != "manual"
            )
        ).all()
    done: list[str] = []
    for newsletter in scheduled:
        period = due_issue(newsletter, services, now)
        if period is not None:
            done += _build(services, now, newsletter, period, notify)
            done += _send(services, now, newsletter, period, notify)
    return done


def _build(
    services: Services, now: datetime, newsletter: Newsletter, period: str, notify: Notify
) -> list[str]:
    slot = f"{newsletter.slug}:{period}"
    if not claim_slot(services.db, "build", slot, now):
        return []
    result = digests.build_digest(
        services.db, services.settings, now, period=period, newsletter=newsletter.id
    )
    finish_slot(services.db, "build", slot, now, result.message)
    if result.outcome == "too_few":
        digests.record_skipped(services.db, period, result.message, now, newsletter.id)
    if result.outcome == "created" and not services.settings.auto_approve:
        link = f"{services.settings.base_url.rstrip('/')}/admin/digests/{result.digest_id}"
        notify(
            services,
            now,
            f"{newsletter.name} {period} is ready for review",
            f"{result.message}\n\nIt will be sent only once approved:\n{link}",
        )
    return [f"build {newsletter.slug}: {result.message}"]


def _send(
    services: Services, now: datetime, newsletter: Newsletter, period: str, notify: Notify
) -> list[str]:
    settings = services.settings
    with services.db.session() as session:
        digest = session.scalar(
            select(Digest).where(Digest.newsletter_id == newsletter.id, Digest.period_key == period)
        )
    if digest is None:
        return []
    if digest.status == "draft" and settings.auto_approve and not digest.vetoed:
        lifecycle.approve(services.db, settings, digest.id, "scheduler (auto-approve)", now)
        digest.status = "approved"
    slot = f"{newsletter.slug}:{period}"
    if digest.status != "approved" or not claim_slot(services.db, "send", slot, now):
        return []
    command = f"mailer digest send {period} --newsletter {newsletter.slug}"
    name = f"{newsletter.name} {period}"
    outcome = start_claimed(services, digest.id, now, name, command, notify)
    return [f"send {newsletter.slug}: {period} {outcome}"]
