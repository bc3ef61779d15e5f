"""Links from mail: confirm, unsubscribe (RFC 8058 one-click too) and preferences."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext

from mailer.core.i18n import N_
from mailer.core.models import Newsletter, Subscriber
from mailer.readers import data_requests, links, newsletters, subscriptions, sunset, validation
from mailer.web.context import csrf, services, use_reader_language
from mailer.web.forms import PreferencesForm
from mailer.web.join import client_ip, signup_limit

bp = Blueprint("reader", __name__)

BAD_LINK = N_("This link is not valid. It may have been copied incompletely.")


def _page(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def _bad_link():
    title = gettext("Link not valid")
    return _page("web/error.html", 404, title=title, message=gettext(BAD_LINK))


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
    return _page(
        "web/confirm.html",
        state="done",
        preferences_url=preferences,
        sender=links.sender_address(settings),
        frequency=settings.list_frequency,
    )


OLD_LINK = N_(
    "This unsubscribe link is more than %(days)s days old. Open it in a browser to have a fresh "
    "one mailed to you."
)


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """GET never changes anything: it shows the button (or, for an old link, a fresh-link one)."""
    svc = services()
    state, sub = subscriptions.unsubscribe_link(svc.db, svc.settings, token, svc.now())
    if sub is None:
        return _bad_link()
    use_reader_language(sub.language)
    leaving = _leaving(token, sub)
    done = sub.status == "unsubscribed" or (leaving is not None and not leaving[1])
    days = svc.settings.unsubscribe_link_days
    return _page(
        "web/unsubscribe.html",
        done=done,
        old=state == "old" and not done,
        days=days,
        newsletter_name=leaving[0] if leaving else None,
    )


def _leaving(token: str, sub: Subscriber) -> tuple[str, bool] | None:
    """The newsletter an unsubscribe link leaves and whether the reader still takes it; None
    for a link that leaves every newsletter."""
    svc = services()
    nid = subscriptions.unsubscribe_scope(svc.settings, token)
    if nid is None:
        return None
    with svc.db.session() as session:
        row = session.get(Newsletter, nid)
        if row is None:
            return None
        return row.name, nid in newsletters.active_ids(session, sub.id)


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # the signed token is the capability; RFC 8058 clients send no cookie or CSRF token
@signup_limit  # counts only a request for a fresh link, like a signup
def unsubscribe(token: str):
    svc = services()
    now, settings = svc.now(), svc.settings
    state, sub = subscriptions.unsubscribe_link(svc.db, settings, token, now)
    if sub is None:
        return _bad_link()
    use_reader_language(sub.language)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if state == "old":
        if one_click:
            body = gettext(OLD_LINK, days=settings.unsubscribe_link_days) + "\n"
            return Response(body, 410, mimetype="text/plain")
        if request.form.get("action") == "fresh-link":
            subscriptions.send_fresh_links(svc.db, settings, sub.id, now)
            return _page("web/check_inbox.html", embedded=False, links=True)
        days = settings.unsubscribe_link_days
        return _page("web/unsubscribe.html", 410, done=False, old=True, days=days)
    if not one_click and request.form.get("action") == "resubscribe":
        return _page("web/unsubscribe.html", done=True, notice=_resubscribe(sub))
    how = "one-click" if one_click else "link"
    everything = not one_click and request.form.get("scope") == "all"
    nid = None if everything else subscriptions.unsubscribe_scope(settings, token)
    subscriptions.unsubscribe(svc.db, sub.id, how, svc.now(), ip=client_ip(), newsletter_id=nid)
    if one_click:
        return Response(gettext("You are unsubscribed.") + "\n", 200, mimetype="text/plain")
    leaving = _leaving(token, sub) if nid is not None else None
    name = leaving[0] if leaving else None
    return _page("web/unsubscribe.html", done=True, newsletter_name=name)


SUPERSEDED = N_(
    "This preferences link came in an older mail. You have confirmed your subscription again "
    "since then, and each confirmation replaces the links in earlier mails, so this one no "
    "longer opens your preferences."
)
GONE = N_("The subscription this link was for no longer exists: everything about it was erased.")
DATA_LINK_SENT = N_(
    "We have mailed a link to download or erase your data to the address this newsletter goes "
    "to. It works for one hour."
)


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@signup_limit  # counts only the actions that mail the reader (resubscribe, fresh links)
def preferences(token: str):
    svc = services()
    settings, now = svc.settings, svc.now()
    state, sub = subscriptions.preferences_link(svc.db, settings, token, now)
    if state == "bad":
        return _bad_link()
    if state == "gone":
        title = gettext("Link no longer works")
        return _page("web/error.html", 404, title=title, message=gettext(GONE))
    use_reader_language(sub.language)
    if state in ("superseded", "old"):
        return _stale(state, sub)
    form = PreferencesForm(data={"first_name": sub.first_name or ""})
    if request.method == "GET":
        return _prefs(form, sub)
    if not form.validate():
        return _prefs(form, sub, status=400)
    action = request.form.get("action", "save")
    try:
        notice = _apply(action, form, sub)
    except validation.InvalidInput as exc:
        form.first_name.errors = [gettext(exc.message)]
        return _prefs(form, sub, status=400)
    sub = subscriptions.subscriber_for(svc.db, settings, "preferences", token, now)
    return _prefs(form, sub, notice) if sub is not None else _bad_link()


def _stale(state: str, sub: Subscriber):
    """A genuine link from an older mail, or one past its days: say which, and offer the
    current links by mail; it opens nothing else, since whoever holds it may not be the reader."""
    svc = services()
    if request.method == "POST" and request.form.get("action") == "fresh-link":
        subscriptions.send_fresh_links(svc.db, svc.settings, sub.id, svc.now())
        return _page("web/check_inbox.html", embedded=False, links=True)
    if state == "superseded":
        return _page("web/link_replaced.html", 410, message=gettext(SUPERSEDED))
    days = svc.settings.unsubscribe_link_days
    return _page("web/preferences_stale.html", 410, days=days)


def _apply(action: str, form: PreferencesForm, sub: Subscriber) -> str:
    svc = services()
    now, ip, sid = svc.now(), client_ip(), sub.id
    if action == "save":
        subscriptions.update_preferences(svc.db, sid, now, first_name=form.first_name.data, ip=ip)
        return gettext("Your name is saved.")
    if action == "language":
        chosen = request.form.get("language", "")
        if chosen not in svc.settings.languages:
            abort(400, gettext("Choose one of the languages offered."))
        subscriptions.update_preferences(svc.db, sid, now, language=chosen, ip=ip)
        use_reader_language(chosen)
        return gettext("Your language is saved.")
    if action in ("pause", "resume"):
        paused = action == "pause"
        subscriptions.update_preferences(svc.db, sid, now, paused=paused, ip=ip)
        return (
            gettext("Mail is paused until you resume it.")
            if paused
            else gettext("Mail is on again.")
        )
    if action == "stay":  # the answer to the re-engagement mail
        subscriptions.update_preferences(svc.db, sid, now, paused=False, ip=ip)
        return gettext("Thank you: it keeps coming.")
    if action == "unsubscribe":
        subscriptions.unsubscribe(svc.db, sid, "preferences", now, ip=ip)
        return gettext("You are unsubscribed. No more mail will come.")
    if action == "newsletters":
        return _choose(sid, request.form.getlist("newsletters"))
    if action == "resubscribe":
        return _resubscribe(sub)
    if action == "data-link":
        outcome = data_requests.send_data_link(svc.db, svc.settings, sid, now)
        if outcome.result == "limited":
            return gettext("A link was mailed a few minutes ago. Use that one, or try again later.")
        return gettext(DATA_LINK_SENT)
    abort(400, gettext("Unknown action."))


def _choose(sid: int, slugs: list[str]) -> str:
    """Save the ticked newsletters; none ticked is unsubscribing from every one."""
    svc = services()
    try:
        chosen = list(newsletters.resolve(svc.db, slugs)) if slugs else []
    except newsletters.UnknownNewsletter:
        abort(400, "Unknown newsletter.")
    outcome = subscriptions.choose_newsletters(svc.db, sid, chosen, svc.now(), client_ip())
    if not chosen:
        return gettext("You are unsubscribed. No more mail will come.")
    if outcome.result == "bad-link":
        return gettext("Only a confirmed subscription can choose its newsletters.")
    if outcome.result == "done":
        return gettext("Your newsletters are saved.")
    return gettext("Nothing changed.")


def _resubscribe(sub: Subscriber) -> str:
    """Coming back goes through a confirmation mail, as joining does: never at once."""
    svc = services()
    outcome = subscriptions.send_fresh_link(svc.db, svc.settings, sub.id, svc.now(), sub.first_name)
    if outcome.result == "limited":
        return gettext(
            "We sent you a confirmation link a few minutes ago: look for it in your inbox."
        )
    if outcome.result == "already" and sub.status == "confirmed":
        return gettext("You are subscribed already: there is nothing to do.")
    if outcome.result != "queued":
        return gettext("This address cannot be subscribed again from here.")
    return gettext(
        "We sent a confirmation link to your address. Press the button in it to start again."
    )


def _prefs(form: PreferencesForm, sub, notice: str = "", status: int = 200, **context):
    svc = services()
    settings = svc.settings
    with svc.db.session() as session:
        taken = newsletters.active_ids(session, sub.id)
    offers = newsletters.offers(svc.db)
    return _page(
        "web/preferences.html",
        status,
        form=form,
        sub=sub,
        notice=notice,
        frequency=settings.list_frequency,
        offers=offers,
        chosen=[o.slug for o in offers if o.id in taken],
        sunset_stage=sunset.stage_of(services().db, sub.id),
        **context,
    )
