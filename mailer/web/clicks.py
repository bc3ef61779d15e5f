"""GET /r/<token>: a digest link's signed redirect; the reader is sent on first, counted after."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, abort, current_app, redirect, request

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.editions import click_counts
from mailer.editions.clicks import ClickTarget, read_click
from mailer.editions.machines import BurstWatch, machine_reason
from mailer.readers.tokens import TokenInvalid
from mailer.web import services

bp = Blueprint("clicks", __name__)
log = logging.getLogger(__name__)


def _bursts(settings: Settings) -> BurstWatch:
    """One burst watch per app: clicks per client over the last second."""
    return current_app.extensions.setdefault(
        "mailer_click_bursts", BurstWatch(settings.click_burst)
    )


@bp.get("/r/<token>")
def follow(token: str):
    """Redirect to the article the signed token names (GET and HEAD); count it afterwards."""
    svc = services()
    settings = svc.settings
    try:
        target = read_click(settings.secret_key, token)
    except TokenInvalid:
        abort(
            400,
            "This link is damaged or was not made by us. "
            "Every issue is also in the archive on this site.",
        )
    response = redirect(target.url, 302)
    response.headers["Cache-Control"] = "no-store"
    if target.counted and settings.click_tracking != "off":
        now = svc.now()
        method = request.method
        agent = request.headers.get("User-Agent", "")
        client = (request.remote_addr or "", agent)
        bursts = _bursts(settings)
        # The WSGI server calls this once the redirect is written: a slow or absent database
        # never holds the reader back.
        response.call_on_close(
            lambda: _count(svc.db, settings, bursts, target, method, agent, client, now)
        )
    return response


def _count(
    db: Database,
    settings: Settings,
    bursts: BurstWatch,
    target: ClickTarget,
    method: str,
    agent: str,
    client: tuple[str, str],
    now: datetime,
) -> None:
    """Classify the click (people or which kind of machine) and store it; never raises."""
    key = click_counts.LinkKey(
        target.digest_id, target.kind, target.item_id, now.astimezone(settings.zone).date()
    )
    reason = machine_reason(
        method=method,
        user_agent=agent,
        seconds_after_delivery=None,
        scanner_seconds=settings.click_scanner_seconds,
        extra_agents=settings.click_scanner_agents,
    )
    taken_back = []
    if reason is None:
        burst, taken_back = bursts.see(client, now.timestamp(), key)
        reason = "burst" if burst else None
    try:
        click_counts.record(db, key, reason, taken_back)
    except Exception:  # the reader is on the article already; a lost count is only logged
        log.warning("click on digest %s not counted", target.digest_id, exc_info=True)
