"""Links from mail: confirm, unsubscribe (RFC 8058 one-click too) and preferences."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from mailer.core.models import Subscriber
from mailer.readers import data_requests, links, subscriptions, validation
from mailer.web.context import csrf, services
from mailer.web.forms import PreferencesForm
from mailer.web.join import client_ip, signup_limit

bp = Blueprint("reader", __name__)

BAD_LINK = "This link is not valid. It may have been copied incompletely."
DATA_LINK_SENT = (
    "We have mailed a link to download or erase your data to the address this newsletter goes "
    "to. It works for one hour."
)


def _page(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def _bad_link():
    return _page("web/error.html", 404, title="Link not valid", message=BAD_LINK)


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    """Show a button only: mail scanners that follow links must not confirm anyone."""
    svc = services()
    outcome = subscriptions.inspect_confirm(svc.db, svc.settings, token, svc.now())
    if outcome.result == "bad-link":
        return _bad_link()
    return _page("web/confirm.html", state=outcome.result, first_name=outcome.first_name)


@bp.post("/confirm/<token>")
@signup_limit
def confirm(token: str):
    svc = services()
    settings, now = svc.settings, svc.now()
    if request.form.get("action") == "fresh-link":
        outcome = subscriptions.inspect_confirm(svc.db, settings, token, now)
        if outcome.result == "bad-link" or outcome.subscriber_id is None:
            return _bad_link()
        if outcome.result == "expired":
            subscriptions.send_fresh_link(
                svc.db, settings, outcome.subscriber_id, now, outcome.first_name
            )
        return _page("web/check_inbox.html", embedded=False)
    outcome = subscriptions.confirm(svc.db, settings, token, client_ip(), now)
    if outcome.result == "bad-link":
        return _bad_link()
    if outcome.result == "expired":
        return _page("web/confirm.html", 410, state="expired")
    if outcome.result != "done":
        return _page("web/confirm.html", state=outcome.result)
    with svc.db.session() as session:
        sub = session.get(Subscriber, outcome.subscriber_id)
        preferences = links.preferences_url(settings, sub.id, sub.token_nonce, now)
    return _page("web/confirm.html", state="done", preferences_url=preferences)


OLD_LINK = (
    "This unsubscribe link is more than {days} days old. Open it in a browser to have a fresh "
    "one mailed to you.\n"
)


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """GET never changes anything: it shows the button (or, for an old link, a fresh-link one)."""
    svc = services()
    state, sub = subscriptions.unsubscribe_link(svc.db, svc.settings, token, svc.now())
    if sub is None:
        return _bad_link()
    done = sub.status == "unsubscribed"
    days = svc.settings.unsubscribe_link_days
    return _page("web/unsubscribe.html", done=done, old=state == "old" and not done, days=days)


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # the signed token is the capability; RFC 8058 clients send no cookie or CSRF token
@signup_limit  # counts only a request for a fresh link, like a signup
def unsubscribe(token: str):
    svc = services()
    now, settings = svc.now(), svc.settings
    state, sub = subscriptions.unsubscribe_link(svc.db, settings, token, now)
    if sub is None:
        return _bad_link()
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if state == "old":
        if one_click:
            body = OLD_LINK.format(days=settings.unsubscribe_link_days)
            return Response(body, 410, mimetype="text/plain")
        if request.form.get("action") == "fresh-link":
            subscriptions.send_fresh_links(svc.db, settings, sub.id, now)
            return _page("web/check_inbox.html", embedded=False, links=True)
        days = settings.unsubscribe_link_days
        return _page("web/unsubscribe.html", 410, done=False, old=True, days=days)
    how = "one-click" if one_click else "link"
    subscriptions.unsubscribe(svc.db, sub.id, how, svc.now(), ip=client_ip())
    if one_click:
        return Response("You are unsubscribed.\n", 200, mimetype="text/plain")
    return _page("web/unsubscribe.html", done=True)


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    svc = services()
    settings, now = svc.settings, svc.now()
    state, sub = subscriptions.preferences_link(svc.db, settings, token, now)
    if sub is None:
        return _bad_link()
    if state != "ok":
        return _stale_preferences(state, sub.id)
    form = PreferencesForm(data={"first_name": sub.first_name or ""})
    notice, status = "", 200
    if request.method == "POST":
        if not form.validate():
            return _prefs(form, sub, "", 400)
        action = request.form.get("action", "save")
        try:
            notice = _apply(action, form, sub.id)
        except validation.InvalidInput as exc:
            form.first_name.errors = [exc.message]
            return _prefs(form, sub, "", 400)
        state, sub = subscriptions.preferences_link(svc.db, settings, token, now)
        if sub is None:
            return _page("web/erased.html")
    return _prefs(form, sub, notice, status)


def _stale_preferences(state: str, sid: int):
    """An old or superseded link may only ask for fresh links, mailed to the stored address."""
    svc = services()
    if request.method == "POST" and request.form.get("action") == "fresh-links":
        subscriptions.send_fresh_links(svc.db, svc.settings, sid, svc.now())
        return _page("web/check_inbox.html", embedded=False, links=True)
    days = svc.settings.unsubscribe_link_days
    return _page("web/preferences_stale.html", 410, state=state, days=days)


def _apply(action: str, form: PreferencesForm, sid: int) -> str:
    svc = services()
    now, ip = svc.now(), client_ip()
    if action == "save":
        subscriptions.update_preferences(svc.db, sid, now, first_name=form.first_name.data, ip=ip)
        return "Your name is saved."
    if action in ("pause", "resume"):
        paused = action == "pause"
        subscriptions.update_preferences(svc.db, sid, now, paused=paused, ip=ip)
        return "Mail is paused until you resume it." if paused else "Mail is on again."
    if action == "unsubscribe":
        subscriptions.unsubscribe(svc.db, sid, "preferences", now, ip=ip)
        return "You are unsubscribed. No more mail will come."
    if action == "data-link":
        outcome = data_requests.send_data_link(svc.db, svc.settings, sid, now)
        if outcome.result == "limited":
            return "A link was mailed a few minutes ago. Use that one, or try again later."
        return DATA_LINK_SENT
    abort(400, "Unknown action.")


def _prefs(form: PreferencesForm, sub, notice: str, status: int):
    return _page("web/preferences.html", status, form=form, sub=sub, notice=notice)
