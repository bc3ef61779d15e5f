"""The desk's special editions: compose one from chosen articles or a breaking story, then the
digest pages preview, test, approve, schedule and send it like any issue."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from mailer.core.errors import MailerError
from mailer.editions import picker, specials
from mailer.readers import newsletters
from mailer.web.admin import login_required
from mailer.web.context import services

bp = Blueprint("specials", __name__, url_prefix="/admin/specials")

QUERY_MAX = 200


def _ids(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values if v.strip()]
    except ValueError:
        abort(400, "Articles are chosen by their numeric id.")


@bp.get("/")
@login_required()
def index():
    svc = services()
    q = request.args.get("q", "")[:QUERY_MAX]
    with svc.db.session() as session:
        found = picker.recent(session, svc.now(), q)
    return render_template(
        "web/admin/specials.html",
        specials=specials.list_specials(svc.db, 50),
        candidates=found,
        q=q,
        recent_days=picker.RECENT_DAYS,
        zone=svc.settings.zone,
        can_edit=g.editor.role == "editor",
        title_max=specials.TITLE_MAX,
        newsletters=newsletters.offers(svc.db),
    )


@bp.post("/")
@login_required("editor")
def compose():
    """Freeze the chosen articles (or one breaking story and its related coverage) as a draft."""
    svc = services()
    form = request.form
    mode = form.get("mode", "")
    if mode not in ("articles", "breaking"):
        abort(400, "Choose to compose from the ticked articles or around one breaking story.")
    chosen = _ids(form.getlist("article")) if mode == "articles" else []
    breaking = _ids([form.get("breaking", "")]) if mode == "breaking" else []
    try:
        when = specials.parse_when(form.get("at"), svc.settings.zone)
        if mode == "breaking" and not breaking:
            raise MailerError("choose the breaking story (the round button on its row).")
        digest = specials.create_special(
            svc.db,
            svc.settings,
            svc.now(),
            form.get("title", ""),
            g.editor.email,
            article_ids=chosen,
            breaking=breaking[0] if breaking else None,
            scheduled_for=when,
            newsletter=form.get("newsletter") or None,
        )
    except MailerError as exc:
        flash(f"Not composed: {exc}")
        return redirect(url_for("specials.index")), 303
    flash(f"Composed {digest.period_key}: preview it, test it, then approve it.")
    return redirect(url_for("desk.page", digest_id=digest.id)), 303
