"""The Flask side: the only package under mailer/ that imports Flask."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from mailer.core import safejson
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
)
from mailer.web.context import csrf
from mailer.web.limits import init_limiter

STATIC = Path(__file__).resolve().parent / "static"

# Editor navigation, shown when the endpoint exists.
ADMIN_LINKS = (
    ("desk.index", "Digests"),
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
    )
    app.json = SafeJSONProvider(app)
    app.extensions["mailer"] = svc
    logging.basicConfig(level=settings.log_level)
    csrf.init_app(app)

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
        return page(400, "Form expired", "The form expired or was not ours. Reload and try again.")

    @app.errorhandler(429)
    def _too_many(exc: HTTPException):
        return page(429, "Too many requests", "Please wait a little and try again.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return page(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return page(500, "Something went wrong", "We could not finish that. Please try again.")
