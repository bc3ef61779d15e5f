"""The editors' digest pages: preview the exact bytes, adjust, test, approve, send, follow."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from mailer.content.analytics.refresh import last_fetch
from mailer.content.articles import find_article
from mailer.core.errors import MailerError
from mailer.core.models import Article, AuditEntry, Digest
from mailer.delivery import status as send_status
from mailer.delivery.precheck import check_message, start_send, wants_spamassassin
from mailer.delivery.queue import nudge
from mailer.delivery.samples import queue_test_sends, sample_message
from mailer.editions import digests, editing, lifecycle, picker, reasons, specials
from mailer.editions.clicks.report import REASON_WORDS, click_report
from mailer.editions.figures import recent_digests
from mailer.editions.suggestions import related_for
from mailer.editions.targeting import target_segment
from mailer.readers.segments import list_segments
from mailer.readers.validation import normalise_email
from mailer.scheduler.plan import send_plan
from mailer.web.admin import login_required, newsletter_switcher
from mailer.web.context import services
from mailer.web.desk_confirm import CONFIRM, confirm_page, confirmed

bp = Blueprint("desk", __name__, url_prefix="/admin/digests")

MAX_TEST_ADDRESSES = 10


def _digest(digest_id: int) -> Digest:
    try:
        return digests.find_digest(services().db, digest_id)
    except MailerError:
        abort(404, "No such digest.")


def _sample_message(digest: Digest):
    svc = services()
    return sample_message(digest, svc.settings, now=svc.now())


@bp.get("/")
@login_required()
def index():

    switcher = newsletter_switcher()
    rows = recent_digests(services().db, 52, switcher["current_id"])
    return render_template("web/admin/digests.html", digests=rows, **switcher)


@bp.get("/<int:digest_id>")
@login_required()
def page(digest_id: int):
    svc = services()
    digest = _digest(digest_id)
    message = _sample_message(digest)
    status = send_status.digest_status(svc.db, digest.id, svc.now())
    spam_asked = request.args.get("spamassassin") == "1" and wants_spamassassin(svc.settings)
    precheck = None
    if digest.status in ("draft", "approved"):  # before Approve and Send now
        precheck = check_message(
            message, digest.period_key, svc.settings, svc.transport, spamassassin=spam_asked
        )
    with svc.db.session() as session:
        log = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target == f"digest:{digest.period_key}")
            .order_by(AuditEntry.id.desc())
            .limit(50)
        ).all()
        why = reasons.story_reasons(session, svc.settings, digest, svc.now())
        why_related = reasons.related_reasons(session, svc.settings, digest)
        addable = picker.candidates(session, svc.settings, digest)
    return render_template(
        "web/admin/digest.html",
        clicks=click_report(svc.db, digest, status.counts.get("sent", 0)),
        reason_words=REASON_WORDS,
        per_reader=svc.settings.click_tracking == "per_reader",
        digest=digest,
        items=sorted(digest.items, key=lambda i: i.position),
        why=why,
        why_related=why_related,
        addable=addable,
        plan=send_plan(
            svc.db, svc.settings, digest.period_key, svc.now(), digest.id, digest.newsletter
        ),
        segments=list_segments(svc.db),
        confirm=CONFIRM,
        message=message,
        feedback_words=send_status.FEEDBACK_WORDS,
        html_size=len((message.html or "").encode()),
        precheck=precheck,
        spam_asked=spam_asked,
        status=status,
        log=log,
        can_edit=g.editor.role == "editor",
        editing=g.editor.role == "editor" and digest.status in digests.EDITABLE,
        views_fetch=last_fetch(svc.db, digest.period_key),
        zone=svc.settings.zone,
    )


@bp.get("/<int:digest_id>/preview.html")
@login_required()
def preview_html(digest_id: int):
    """The HTML part exactly as sent, for the sandboxed iframe; it may run nothing."""
    message = _sample_message(_digest(digest_id))
    response = services_response(message.html or "")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'"
    )
    return response


def services_response(body: str):
    from flask import make_response

    response = make_response(body)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:digest_id>/status.json")
@login_required()
def status_json(digest_id: int):
    svc = services()
    status = send_status.digest_status(svc.db, digest_id, svc.now())
    return jsonify(
        status=status.status,
        reason=status.reason,
        counts=status.counts,
        rate_per_minute=status.rate_per_minute,
        eta_seconds=status.eta_seconds,
        feedback=status.feedback,
    )


@bp.get("/<int:digest_id>/suggest/<int:item_id>")
@login_required()
def suggest(digest_id: int, item_id: int):
    """Related-coverage suggestions for one story, each with why (the names and words it
    shares), for the editor to add."""
    svc = services()
    settings = svc.settings
    digest = _digest(digest_id)
    item = next((i for i in digest.items if i.id == item_id), None)
    if item is None or item.article_id is None:
        abort(404, "No such story in this digest.")
    shown = {i.article_id for i in digest.items} | {
        r.article_id for i in digest.items for r in i.related
    }
    with svc.db.session() as session:
        story = session.get(Article, item.article_id)
        suggestions = related_for(session, settings, story, 10, shown)
    return render_template(
        "web/admin/suggest.html", digest=digest, item=item, suggestions=suggestions
    )


ACTIONS = {
    "text": lambda db, s, d, who, now, f: editing.set_text(
        db,
        d,
        who,
        now,
        subject=f.get("subject"),
        preheader=f.get("preheader"),
        intro=f.get("intro"),
    ),
    "up": lambda db, s, d, who, now, f: editing.move_item(db, d, _int(f, "item"), -1, who, now),
    "down": lambda db, s, d, who, now, f: editing.move_item(db, d, _int(f, "item"), 1, who, now),
    "pin": lambda db, s, d, who, now, f: editing.set_pinned(db, d, _int(f, "item"), True, who, now),
    "unpin": lambda db, s, d, who, now, f: editing.set_pinned(
        db, d, _int(f, "item"), False, who, now
    ),
    "exclude": lambda db, s, d, who, now, f: editing.exclude_item(db, d, _int(f, "item"), who, now),
    "remove_related": lambda db, s, d, who, now, f: editing.remove_related(
        db, d, _int(f, "related"), who, now
    ),
    "add_related": lambda db, s, d, who, now, f: editing.add_related(
        db, d, _int(f, "item"), _article(db, f), who, now
    ),
    "add_story": lambda db, s, d, who, now, f: editing.add_story(db, d, _article(db, f), who, now),
    "restore": lambda db, s, d, who, now, f: editing.add_story(
        db, d, _int(f, "article"), who, now, position=_int(f, "position")
    ),
    "target": lambda db, s, d, who, now, f: target_segment(db, d, f.get("segment"), who, now),
    "approve": lambda db, s, d, who, now, f: lifecycle.approve(db, s, d, who, now),
    "withdraw": lambda db, s, d, who, now, f: lifecycle.withdraw(db, d, who, now),
    "veto": lambda db, s, d, who, now, f: lifecycle.veto(db, d, who, now),
    "send_now": lambda db, s, d, who, now, f: start_send(db, s, d, services().transport, who, now),
    "pause": lambda db, s, d, who, now, f: lifecycle.pause(db, d, who, now, "paused by an editor"),
    "resume": lambda db, s, d, who, now, f: lifecycle.resume(db, d, who, now),
    "cancel": lambda db, s, d, who, now, f: lifecycle.cancel(
        db, d, who, now, "cancelled by an editor"
    ),
    "schedule": lambda db, s, d, who, now, f: specials.schedule(
        db, d, specials.parse_when(f.get("at"), s.zone), who, now
    ),
}


def _article(db, form) -> int:
    """The article an editor means, by id or by any link to it (as the feed or the site gave it)."""
    reference = form.get("article", "").strip()
    if not reference:
        raise MailerError("give an article id or link.")
    with db.session() as session:
        article = find_article(session, reference)
        if article is None:
            raise MailerError(f"no stored article {reference[:200]} (give an id or its link).")
        return article.id


def _int(form, name: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError:
        raise MailerError(f"{name} must be a number.") from None


def _back(digest_id: int, anchor: str):
    """To the desk, at the place the editor acted from, so a change never loses their place."""
    return redirect(url_for("desk.page", digest_id=digest_id, _anchor=anchor)), 303


def _anchor(action: str, form, result: object) -> str:
    """The story an action leaves in view: the one changed, added, or next to one removed."""
    if action in ("add_story", "restore") and isinstance(result, int):
        return f"story-{result}"
    near = form.get("near", "")
    if near.isdigit():
        return f"story-{near}"
    return {"text": "edit", "exclude": "add", "schedule": "schedule"}.get(action, "progress")


@bp.post("/<int:digest_id>/act")
@login_required("editor")
def act(digest_id: int):
    """Every change goes through here: one action, recorded with who and when. Sending, vetoing,
    cancelling and removing wait for an explicit confirmation, which a page asks for."""
    svc = services()
    action = request.form.get("action", "")
    handler = ACTIONS.get(action)
    if handler is None:
        abort(400, "Unknown action.")
    if action in CONFIRM and not confirmed(request.form):
        digest = _digest(digest_id)
        plan = send_plan(
            svc.db, svc.settings, digest.period_key, svc.now(), digest.id, digest.newsletter
        )
        return confirm_page(digest, action, request.form, plan, svc.settings.zone)
    try:
        result = handler(svc.db, svc.settings, digest_id, g.editor.email, svc.now(), request.form)
    except MailerError as exc:
        flash(f"Not done: {exc}")
        return _back(digest_id, _anchor(action, request.form, None))
    if action in ("send_now", "resume"):
        nudge(svc, digest_id)  # with the queue on, workers start now rather than next minute
    flash(f"Done: {action.replace('_', ' ')}.")
    return _back(digest_id, _anchor(action, request.form, result))


@bp.post("/<int:digest_id>/rebuild")
@login_required("editor")
def rebuild(digest_id: int):
    svc = services()
    digest = _digest(digest_id)
    result = digests.build_digest(
        svc.db, svc.settings, svc.now(), digest.period_key, True, newsletter=digest.newsletter_id
    )
    flash(result.message)
    target = result.digest_id or digest_id
    return redirect(url_for("desk.page", digest_id=target)), 303


@bp.post("/<int:digest_id>/test")
@login_required("editor")
def send_test(digest_id: int):
    """Queue the exact message to a few addresses; the engine sends it within a minute."""

    svc = services()
    digest = _digest(digest_id)
    raw = [a.strip() for a in request.form.get("addresses", "").replace(";", ",").split(",")]
    raw = [a for a in raw if a]
    if not raw or len(raw) > MAX_TEST_ADDRESSES:
        flash(f"Give between 1 and {MAX_TEST_ADDRESSES} addresses, separated by commas.")
        return _back(digest_id, "test")
    try:
        addresses = [normalise_email(a) for a in raw]
    except ValueError as exc:
        flash(f"Not sent: {exc}")
        return _back(digest_id, "test")
    queue_test_sends(svc.db, svc.settings, digest, addresses, g.editor.email, svc.now())
    nudge(svc)
    flash(f"Test queued for {', '.join(addresses)}.")
    return _back(digest_id, "test")
