"""The Flask side: the only package under mailer/ that imports Flask."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from mailer.core import safejson
from mailer.core.i18n import N_
from mailer.core.templates import TEMPLATES
from mailer.editions.subjects import subject_preview
from mailer.services import Services
from mailer.web import (
    admin,
    audience,
    captcha,
    clicks,
    desk,
    hooks,
    join,
    library,
    my_data,
    public,
    reader,
    samples,
    specials,
)
from mailer.web.context import csrf
from mailer.web.languages import init_babel
from mailer.web.limits import init_limiter

STATIC = Path(__file__).resolve().parent / "static"

# Editor navigation, shown when the endpoint exists.
ADMIN_LINKS = (
    ("desk.index", "Digests"),
    ("specials.index", "Special editions"),
    ("library.sources", "Sources"),
    ("library.articles", "Articles"),
    ("audience.segments_page", "Segments"),
    ("audience.sunset_page", "Sunsetting"),
)


class SafeJSONProvider(DefaultJSONProvider):
    """request.get_json reads with the depth limit, so a deeply nested body is a 400."""

    def loads(self, s: str | bytes, **kwargs):
        return safejson.loads(s)


def init_app(svc: Services) -> Flask:
    settings = svc.settings
    app = Flask(
        "mailer",
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        # Our forms' messages are in our catalogue; Flask-WTF's own i18n would read WTForms'
        # .mo from disk on each request that needs a built-in message.
        WTF_I18N_ENABLED=False,
    )
    app.json = SafeJSONProvider(app)
    app.extensions["mailer"] = svc
    logging.basicConfig(level=settings.log_level)
    csrf.init_app(app)
    init_babel(app, settings)

    if settings.trusted_proxy_hops:
        # Only the last N X-Forwarded-For/-Proto values are the proxies' own; the rest is
        # whatever the client sent, so never more than the operator configured.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    init_limiter(app, settings.ratelimit_storage_url)

    @app.context_processor
    def _site():
        return {
            "site_name": settings.site_name,
            "list_name": settings.list_name,
            "endpoints": app.view_functions,
            "admin_links": [(e, label) for e, label in ADMIN_LINKS if e in app.view_functions],
        }

    app.add_template_filter(subject_preview)  # the desk shows a subject as a phone cuts it
    for module in (
        public,
        admin,
        join,
        reader,
        my_data,
        captcha,
        desk,
        library,
        audience,
        hooks,
        clicks,
        samples,
        specials,
    ):
        app.register_blueprint(module.bp)
    _register_errors(app)

    @app.before_request
    def _no_testing_in_production():
        """The testing flag turns off safety checks; set after start-up, it stops every page."""
        if settings.is_production and app.testing:
            app.logger.error("Flask's testing flag is on in production; refusing requests")
            abort(503, description="This service is misconfigured; the operator has been told.")

    @app.before_request
    def _admin_needs_login():
        """Every /admin path, real or not, sends a visitor to the sign-in first, so the answer
        never tells an outsider which editor pages exist (a 404 or 405 only after signing in)."""
        guarded = _is_admin_path(request.path) and request.endpoint != "editor.login"
        if guarded and admin.current_editor() is None:
            return redirect(url_for("editor.login", next=request.full_path))
        return None

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'self'",
        )
        return response

    return app


# The error pages' titles a reader meets, in the catalogue (Werkzeug's own names are English).
STATUS_NAMES = {
    400: N_("Bad Request"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    410: N_("Gone"),
    413: N_("Request Entity Too Large"),
    415: N_("Unsupported Media Type"),
    503: N_("Service Unavailable"),
}
# Werkzeug's words for the errors a reader may meet without our own message.
STATUS_TEXTS = (
    N_(
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again."
    ),
    N_("The method is not allowed for the requested URL."),
    N_("The browser (or proxy) sent a request that this server could not understand."),
)


def _is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.is_json


def _register_errors(app: Flask) -> None:
    """Every error is a readable page (or JSON for APIs), never a traceback."""

    def page(status: int, title: str, message: str):
        if wants_json():
            return jsonify(error=title, message=message), status
        return render_template("web/error.html", title=title, message=message), status

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return page(
            400,
            gettext("Form expired"),
            gettext("The form expired or was not ours. Reload and try again."),
        )

    @app.errorhandler(429)
    def _too_many(exc: HTTPException):
        return page(
            429, gettext("Too many requests"), gettext("Please wait a little and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if wants_json():
            return page(exc.code or 500, exc.name, exc.description or "")
        name = gettext(STATUS_NAMES.get(exc.code or 500, exc.name))
        message = gettext(exc.description) if exc.description else ""  # gettext("") is the header
        return page(exc.code or 500, name, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return page(
            500,
            gettext("Something went wrong"),
            gettext("We could not finish that. Please try again."),
        )
