"""The editors' audience pages: saved segments with today's counts, and sunsetting's preview."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from mailer.core.errors import MailerError, NotFound
from mailer.delivery.ledger import reader_count
from mailer.readers import segments, sunset
from mailer.web.admin import login_required
from mailer.web.context import services

bp = Blueprint("audience", __name__, url_prefix="/admin")

FIELDS = ("source", "confirmed_since", "language")
NUMBERS = ("clicked_in_last_n_issues", "not_clicked_in_last_n_issues")


def _segments_page(status: int = 200, error: str = "", form=None):
    svc = services()
    rows = [(s, reader_count(svc.db, s.rules)) for s in segments.list_segments(svc.db)]
    return render_template(
        "web/admin/segments.html",
        rows=rows,
        everyone=reader_count(svc.db),
        error=error,
        form=form or {},
        per_reader=svc.settings.click_tracking == "per_reader",
    ), status


@bp.get("/segments")
@login_required()
def segments_page():
    return _segments_page()


@bp.post("/segments")
@login_required("editor")
def add_segment():
    """Save a segment from the form's fixed fields; a bad rule is a 400 saying which."""
    svc = services()
    form = {k: request.form.get(k, "").strip()[:500] for k in ("name", "slug", *FIELDS, *NUMBERS)}
    rules = {k: form[k] for k in (*FIELDS, *NUMBERS)}
    try:
        view = segments.add_segment(
            svc.db,
            form["name"],
            rules,
            svc.settings.click_tracking,
            svc.now(),
            form["slug"],
            segments.offered_languages(svc.settings),
        )
    except MailerError as exc:
        return _segments_page(400, str(exc), form)
    count = reader_count(svc.db, view.rules)
    flash(f"Segment {view.slug} saved by {g.editor.email}: {count} readers now.")
    return redirect(url_for("audience.segments_page")), 303


@bp.post("/segments/<slug>/remove")
@login_required("editor")
def remove_segment(slug: str):
    try:
        view = segments.remove_segment(services().db, slug[:64])
    except NotFound as exc:
        return _segments_page(404, str(exc))
    except MailerError as exc:  # an unsent issue still targets it
        return _segments_page(409, str(exc))
    flash(f"Segment {view.slug} removed.")
    return redirect(url_for("audience.segments_page")), 303


@bp.get("/sunset")
@login_required()
def sunset_page():
    """What sunsetting would do now: shown before it is turned on, and while it is."""
    svc = services()
    return render_template(
        "web/admin/sunset.html",
        counts=sunset.preview(svc.db, svc.settings),
        settings=svc.settings,
    )


@bp.post("/sunset/run")
@login_required("editor")
def sunset_run():
    svc = services()
    settings = svc.settings
    if not settings.sunset or settings.click_tracking != "per_reader":
        flash("Not done: sunsetting is off (MAILER_SUNSET).")
        return redirect(url_for("audience.sunset_page")), 303
    done = sunset.run(svc.db, settings, svc.now())
    flash(f"Done: {done.mail} re-engagement mails queued, {done.pause} readers paused.")
    return redirect(url_for("audience.sunset_page")), 303
