"""The ALTCHA challenge endpoint, the widget's files from our own server, and widget variables."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request

from mailer.readers import captcha
from mailer.web.context import services, small_file
from mailer.web.limits import limiter

bp = Blueprint("captcha", __name__)

# The widget build without bundled blob: workers, so a strict CSP (default-src 'self') holds.
# app.config["ALTCHA_DIST"] may point elsewhere (another install location).
ALTCHA_DIST = Path(__file__).resolve().parents[2] / "node_modules" / "altcha" / "dist"
VENDOR_FILES = {
    "altcha.min.js": ("external/altcha.min.js", "text/javascript"),
    "altcha.css": ("external/altcha.css", "text/css"),
    "altcha-sha-worker.js": ("workers/sha.js", "text/javascript"),
}
CHALLENGE_LIMITS = "30/minute;300/hour"

# What each provider's widget needs added to a page's Content-Security-Policy.
PROVIDER_CSP = {
    "altcha": {},
    "none": {},
    "recaptcha-v2": {
        "script-src": "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
        "frame-src": "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
    },
    "hcaptcha": {
        "script-src": "https://hcaptcha.com https://*.hcaptcha.com",
        "frame-src": "https://hcaptcha.com https://*.hcaptcha.com",
        "style-src": "https://hcaptcha.com https://*.hcaptcha.com",
        "connect-src": "https://hcaptcha.com https://*.hcaptcha.com",
    },
    "turnstile": {
        "script-src": "https://challenges.cloudflare.com",
        "frame-src": "https://challenges.cloudflare.com",
    },
}
PROVIDER_CSP["recaptcha-v3"] = PROVIDER_CSP["recaptcha-v2"]


def captcha_csp(provider: str) -> dict[str, str]:
    """Sources a page showing this provider's widget must allow, by CSP directive."""
    return PROVIDER_CSP[provider]


@bp.app_context_processor
def _captcha_variables() -> dict[str, str]:
    settings = services().settings
    return {
        "captcha_provider": settings.captcha,
        "captcha_site_key": settings.captcha_site_key,
        "captcha_token_field": captcha.token_field(settings),
    }


@bp.get("/altcha/challenge")
@limiter.limit(CHALLENGE_LIMITS)
def altcha_challenge():
    """A fresh signed challenge; never cached, since each one may be spent only once."""
    svc = services()
    if svc.settings.captcha != "altcha":
        abort(404, description="This site does not use ALTCHA.")
    response = jsonify(captcha.new_challenge(svc.settings, svc.now()))
    response.headers["Cache-Control"] = "no-store"
    origin = request.headers.get("Origin")
    if origin and origin in svc.settings.embed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


@bp.get("/static/vendor/<name>")
def vendor(name: str):
    """The ALTCHA widget from the npm package, so the page loads nothing from a third party."""
    if name not in VENDOR_FILES:
        abort(404, description="No such file.")
    relative, mimetype = VENDOR_FILES[name]
    path = Path(current_app.config.get("ALTCHA_DIST", ALTCHA_DIST)) / relative
    if not path.is_file():
        abort(
            503,
            description="The ALTCHA widget is not installed on this server. "
            "The operator should run `npm install` in the project folder.",
        )
    return small_file(path, mimetype, max_age=3600)
