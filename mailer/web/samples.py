"""Where a test mail's links lead: a signed preview of the issue, and for the sample reader's
preferences and unsubscribe links a page that says what a real reader would see there."""

from __future__ import annotations

from flask import Blueprint, Response, abort, make_response, render_template, request

from mailer.core.errors import MailerError
from mailer.editions.digests import find_digest
from mailer.editions.previews import preview_digest_id
from mailer.readers.links import is_sample_link
from mailer.web.context import services
from mailer.web.public import issue_page

bp = Blueprint("samples", __name__)

# The reader pages a sample link may open, and the token purpose each one reads.
SAMPLE_PAGES = {
    "reader.unsubscribe_page": "unsubscribe",
    "reader.unsubscribe": "unsubscribe",
    "reader.preferences": "preferences",
}


@bp.get("/preview/<token>")
def preview(token: str):
    """The issue as the archive will show it, for whoever holds the link of a test mail."""
    svc = services()
    digest_id = preview_digest_id(svc.settings, token, svc.now())
    if digest_id is None:
        abort(404, "This preview link is not valid or has expired; send a new test from the desk.")
    try:
        digest = find_digest(svc.db, digest_id)
    except MailerError:
        abort(404, "This issue no longer exists.")
    response = make_response(issue_page(digest, svc.settings))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.before_app_request
def _sample_reader_links():
    """A test mail's reader links act on nobody: they explain instead of saying 'not valid'."""
    purpose = SAMPLE_PAGES.get(request.endpoint or "")
    token = (request.view_args or {}).get("token", "")
    if purpose is None or not is_sample_link(services().settings, purpose, token):
        return None
    if request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click":
        return Response("This was a test message; nobody was unsubscribed.\n", 200)
    return render_template("web/sample_link.html", purpose=purpose)
