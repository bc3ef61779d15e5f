"""The mailed one-hour data link: a reader downloads or erases what we keep about them."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext

from mailer.core.i18n import N_
from mailer.readers import data_requests, privacy
from mailer.web.context import services, use_reader_language
from mailer.web.join import client_ip

bp = Blueprint("my_data", __name__)

EXPIRED = N_(
    "This link to your data has expired: it works for one hour. Open your preferences from a "
    "recent mail and ask for a new one."
)
FORGET_UNTICKED = N_("Tick the box to confirm that everything about you should be erased.")
NOT_VALID = N_("This link is not valid. It may have been copied incompletely.")


@bp.route("/my-data/<token>", methods=["GET", "POST"])
def my_data(token: str):
    """GET shows the choices; only a POST from the page downloads or erases."""
    svc = services()
    state, sub = data_requests.data_link(svc.db, svc.settings, token, svc.now())
    if sub is None:
        expired = state == "expired"
        message = gettext(EXPIRED) if expired else gettext(NOT_VALID)
        title = gettext("Link expired") if expired else gettext("Link not valid")
        return render_template("web/error.html", title=title, message=message), (
            410 if expired else 404
        )
    use_reader_language(sub.language)
    if request.method == "GET":
        return render_template("web/my_data.html")
    action = request.form.get("action")
    if action == "export":
        body = json.dumps(privacy.export_data(svc.db, sub.id), indent=2, ensure_ascii=False)
        disposition = "attachment; filename=my-newsletter-data.json"
        return Response(
            body, mimetype="application/json", headers={"Content-Disposition": disposition}
        )
    if action == "forget":
        if request.form.get("confirm_forget") != "yes":
            return render_template("web/my_data.html", forget_error=gettext(FORGET_UNTICKED)), 400
        privacy.forget(svc.db, sub.id, svc.now(), ip=client_ip())
        return render_template("web/erased.html")
    abort(400, gettext("Unknown action."))
