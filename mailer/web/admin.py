"""The editors' pages under /admin: login, dashboard; digest pages build on these."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from mailer.content.analytics.refresh import last_fetch
from mailer.core.models import Editor
from mailer.editions import accounts, figures
from mailer.readers import newsletters
from mailer.web.context import services
from mailer.web.forms import TextForm
from mailer.web.limits import limiter

bp = Blueprint("editor", __name__, url_prefix="/admin")
SEEN_STEP = 60  # seconds; the cookie is rewritten at most once a minute to renew idle time


class LoginForm(TextForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


def current_editor() -> Editor | None:
    """The editor this browser's session still speaks for; an ended session is cleared."""
    if "editor_id" not in session:
        return None
    svc = services()
    settings, now = svc.settings, svc.now()
    with svc.db.session() as db_session:
        editor = accounts.session_editor(
            db_session,
            session,
            now,
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
        )
    if editor is None:
        session.clear()
        return None
    if now.timestamp() - session["seen"] >= SEEN_STEP:  # idle time counts from the last view
        session["seen"] = int(now.timestamp())
    return editor


def login_required(role: str = "viewer"):
    """Views for signed-in editors; role 'editor' may change things, 'viewer' only look."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            editor = current_editor()
            if editor is None:
                return redirect(url_for("editor.login", next=request.full_path))
            if role == "editor" and editor.role != "editor":
                abort(403, "Your account may look but not change anything.")
            g.editor = editor
            return view(*args, **kwargs)

        return wrapper

    return decorate


def newsletter_switcher() -> dict:
    """The desk's newsletter switcher: every newsletter, and the one `?newsletter=` chose
    (none: every newsletter's digests together)."""
    svc = services()
    offers = newsletters.offers(svc.db)
    chosen = request.args.get("newsletter") or None
    current = next((o for o in offers if o.slug == chosen), None)
    if chosen is not None and current is None:
        abort(404, "There is no such newsletter.")
    return {
        "newsletter_offers": offers,
        "current_newsletter": current,
        "current_id": current.id if current else None,
    }


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("editor.dashboard")


def _login_account() -> str:
    """The account a sign-in names, normalised, so one account's limit holds from any address."""
    typed = request.form.get("email", "")
    return "editor-login:" + " ".join(typed.split()).lower()[:320]


def _failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute;50/hour", methods=["POST"])  # per client address
@limiter.limit(  # per account: failed sign-ins only, so the owner's own success costs nothing
    "10/minute;30/hour", methods=["POST"], key_func=_login_account, deduct_when=_failed
)
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        svc = services()
        with svc.db.session() as db_session:
            editor = accounts.authenticate(
                db_session,
                form.email.data,
                form.password.data,
                svc.now(),
                cost=svc.settings.editor_password_cost,
            )
            if editor is not None:
                session.clear()
                session.update(accounts.new_session(editor, svc.now()))
                session.permanent = False
                return redirect(_safe_next(request.args.get("next")))
        error = "That email and password do not match an editor account."
    status = 401 if error else (400 if form.errors else 200)
    return render_template("web/admin/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    """Ends the editor's sessions everywhere, so a copy of this cookie is worthless too."""
    editor = current_editor()
    if editor is not None:
        with services().db.session() as db_session:
            accounts.end_sessions(db_session, editor.id)
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("editor.login"))


@bp.get("/")
@login_required()
def dashboard():
    svc = services()
    settings, now = svc.settings, svc.now()
    zone = settings.zone
    flow = figures.weekly_flow(svc.db, now, zone)
    switcher = newsletter_switcher()
    return render_template(
        "web/admin/dashboard.html",
        counts=figures.subscriber_counts(svc.db),
        flow=flow,
        flow_max=figures.axis_top(max([1] + [max(w.arrived, w.leaves) for w in flow])),
        digests=figures.recent_digests(svc.db, newsletter_id=switcher["current_id"]),
        next_build=figures.next_fire(settings.build_at, zone, now),
        next_send=figures.next_fire(settings.send_at, zone, now),
        views_fetch=last_fetch(svc.db) if settings.analytics else None,
        zone=zone,
        **switcher,
    )
