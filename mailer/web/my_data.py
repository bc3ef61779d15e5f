"""The mailed one-hour data link: a reader downloads or erases what we keep about them."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, render_template, request

from mailer.readers import data_requests, privacy
from mailer.web.context import services
from mailer.web.join import client_ip

bp = Blueprint("my_data", __name__)

EXPIRED = (
    "This link to your data has expired: it works for one hour. Open your preferences from a "
    "recent mail and ask for a new one."
)
NOT_VALID = "This link is not valid. It may have been copied incompletely."


@bp.route("/my-data/<token>", methods=["GET", "POST"])
def my_data(token: str):
    """GET shows the choices; only a POST from the page downloads or erases."""
    svc = services()
    state, sub = data_requests.data_link(svc.db, svc.settings, token, svc.now())
    if sub is None:
        expired = state == "expired"
        message = EXPIRED if expired else NOT_VALID
        title = "Link expired" if expired else "Link not valid"
        return render_template("web/error.html", title=title, message=message), (
            410 if expired else 404
        )
    if request.method == "GET":
        return render_template("web/my_data.html", notice="")
    action = request.form.get("action")
    if action == "export":
        body = json.dumps(privacy.export_data(svc.db, sub.id), indent=2, ensure_ascii=False)
        disposition = "attachment; filename=my-newsletter-data.json"
        return Response(
            body, mimetype="application/json", headers={"Content-Disposition": disposition}
        )
    if action == "forget":
        if request.form.get("confirm_forget") != "yes":
            notice = "Tick the box to confirm that everything about you should be erased."
            return render_template("web/my_data.html", notice=notice), 400
        privacy.forget(svc.db, sub.id, svc.now(), ip=client_ip())
        return render_template("web/erased.html")
    abort(400, "Unknown action.")
