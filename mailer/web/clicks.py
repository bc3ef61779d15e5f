"""GET /r/<token>: a digest link's signed redirect; the reader is sent on first, counted after."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, current_app, redirect, request

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.editions.clicks import counts as click_counts
from mailer.editions.clicks.links import ClickTarget, read_click, read_reader
from mailer.editions.clicks.machines import BurstWatch, machine_reason
from mailer.readers.tokens import TokenInvalid
from mailer.web.context import services

bp = Blueprint("clicks", __name__)
log = logging.getLogger(__name__)


def _bursts(settings: Settings) -> BurstWatch:
    """One burst watch per app: clicks per client over the last second."""
    watch = current_app.extensions.get("mailer_click_bursts")
    if watch is None:
        watch = current_app.extensions["mailer_click_bursts"] = BurstWatch(settings.click_burst)
    return watch


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
        click = Click(
            target=target,
            method=request.method,
            agent=request.headers.get("User-Agent", ""),
            client=(request.remote_addr or "", request.headers.get("User-Agent", "")[:200]),
            now=svc.now(),
            delivery_id=read_reader(settings.secret_key, request.args.get("r", ""))
            if settings.click_tracking == "per_reader"
            else None,
        )
        bursts = _bursts(settings)
        # The WSGI server calls this once the redirect is written: a slow or absent database
        # never holds the reader back.
        response.call_on_close(lambda: _count(svc.db, settings, bursts, click))
    return response


@dataclass(frozen=True)
class Click:
    """What the request said, kept for counting after the response."""

    target: ClickTarget
    method: str
    agent: str
    client: tuple[str, str]
    now: datetime
    delivery_id: int | None  # per_reader mode: the message the link was in


def _count(db: Database, settings: Settings, bursts: BurstWatch, click: Click) -> None:
    """Classify the click (people or which kind of machine) and store it; never raises."""
    target, now = click.target, click.now
    key = click_counts.LinkKey(
        target.digest_id, target.kind, target.item_id, now.astimezone(settings.zone).date()
    )
    try:
        reader = (
            click_counts.reader_of(db, click.delivery_id, target.digest_id)
            if click.delivery_id
            else None
        )
        subscriber_id, handed_at = reader if reader else (None, None)
        reason = machine_reason(
            method=click.method,
            user_agent=click.agent,
            seconds_after_delivery=(now - handed_at).total_seconds() if handed_at else None,
            scanner_seconds=settings.click_scanner_seconds,
            extra_agents=settings.click_scanner_agents,
        )
        taken_back = []
        if reason is None:
            burst, taken_back = bursts.see(click.client, now.timestamp(), (key, subscriber_id))
            reason = "burst" if burst else None
        click_counts.record(db, key, reason, taken_back, subscriber_id, now)
    except Exception:  # the reader is on the article already; a lost count is only logged
        log.warning("click on digest %s not counted", target.digest_id, exc_info=True)
