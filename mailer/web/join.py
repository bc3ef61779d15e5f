"""The Join form, its embeddable twin and the JSON API: one path into subscriptions.subscribe."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, render_template, request

from mailer.core import safejson
from mailer.readers import captcha, subscriptions, validation
from mailer.web.captcha import captcha_csp
from mailer.web.context import csrf, services
from mailer.web.forms import EmbedJoinForm, JoinForm, make_stamp, read_stamp
from mailer.web.limits import limiter

log = logging.getLogger(__name__)
bp = Blueprint("join", __name__)

CAPTCHA_FAILED = "The CAPTCHA check did not pass. Please try it again."
UNAVAILABLE = "We could not check the CAPTCHA just now. Please try again in a minute."


def signup_limits() -> str:
    return services().settings.signup_rate_limits


def _not_a_signup() -> bool:
    """Confirming is not limited; asking for a fresh confirmation link is, like a signup."""
    links = ("/confirm/", "/unsubscribe/")
    return request.path.startswith(links) and request.form.get("action") != "fresh-link"


signup_limit = limiter.shared_limit(
    signup_limits, scope="signup", methods=["POST"], exempt_when=_not_a_signup
)


def origin_of(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def own_origins() -> set[str]:
    return {origin_of(services().settings.base_url), origin_of(request.host_url)}


def embed_origins() -> set[str]:
    return {origin_of(o) or o.lower() for o in services().settings.embed_origins}


def client_ip() -> str | None:
    return request.remote_addr


@dataclass
class Attempt:
    """The outcome of one submission, whichever door it came through."""

    status: int = 200
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


def attempt_signup(
    email: str,
    first_name: str | None,
    token: str,
    channel: str,
    page: str | None,
) -> Attempt:
    """Validate, check the CAPTCHA, subscribe; the same answer for every address state."""
    svc = services()
    settings, now = svc.settings, svc.now()
    try:
        validation.normalise_email(email, settings)
        validation.clean_first_name(first_name)
    except validation.InvalidInput as exc:
        return Attempt(400, {exc.field: [exc.message]})
    result = captcha.verify(settings, svc.http, svc.db, token or "", client_ip(), now)
    if result.unavailable:
        log.warning("captcha %s unavailable: %s", result.provider, result.detail)
        return Attempt(503, message=UNAVAILABLE)
    if not result.ok:
        log.info("captcha %s refused a %s signup: %s", result.provider, channel, result.detail)
        return Attempt(400, {"captcha": [CAPTCHA_FAILED]})
    signup = subscriptions.Signup(
        email=email,
        first_name=first_name,
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
        origin=page or request.headers.get("Origin") or request.referrer,
        channel=channel,
        captcha_provider=result.provider,
        captcha_result=result.detail + ("" if result.score is None else f" score={result.score}"),
        consent_text_hash=subscriptions.consent_hash(subscriptions.consent_text(settings)),
    )
    try:
        outcome = subscriptions.subscribe(svc.db, settings, signup, now)
    except validation.InvalidInput as exc:
        return Attempt(400, {exc.field: [exc.message]})
    log.info("signup via %s: %s (subscriber %s)", channel, outcome.result, outcome.subscriber_id)
    return Attempt(200)


def _form_page(
    template: str, form, kind: str, attempt: Attempt | None = None, page: str | None = None
):
    svc = services()
    settings = svc.settings
    if request.method == "GET":
        page = request.referrer  # the article the reader came from, kept in the signed stamp
    form.stamp.data = make_stamp(settings.secret_key, svc.now(), kind, page)
    errors = dict(form.errors)
    if attempt:
        for name, messages in attempt.errors.items():
            errors.setdefault(name, []).extend(messages)
    body = render_template(
        template,
        form=form,
        errors=errors,
        message=attempt.message if attempt else "",
        consent_text=subscriptions.consent_text(settings),
        provider=settings.captcha,
        site_key=settings.captcha_site_key,
        frequency=settings.list_frequency,
    )
    return body, (attempt.status if attempt else (400 if errors else 200))


def _handle_post(form, template: str, kind: str):
    svc = services()
    settings = svc.settings
    if form.website.data:  # honeypot: bots get the normal answer and nothing happens
        log.info("honeypot filled on %s; dropped", kind)
        return _done(template)
    error, page = read_stamp(settings.secret_key, form.stamp.data, kind, svc.now())
    if not form.validate():
        return _form_page(template, form, kind, page=page)
    if error:
        return _form_page(template, form, kind, Attempt(400, {"form": [error]}), page)
    token = request.form.get(captcha.token_field(settings), "")
    attempt = attempt_signup(
        form.email.data, form.first_name.data, token, kind if kind == "embed" else "form", page
    )
    if not attempt.ok:
        return _form_page(template, form, kind, attempt, page)
    return _done(template)


def _done(template: str):
    embedded = template.startswith("web/embed")
    return render_template("web/check_inbox.html", embedded=embedded), 200


@bp.route("/join", methods=["GET", "POST"])
@signup_limit
def join():
    form = JoinForm()
    if request.method == "POST":
        return _handle_post(form, "web/join.html", "join")
    return _form_page("web/join.html", form, "join")


def page_csp(frame_ancestors: str) -> str:
    """Our strict policy plus exactly what the configured CAPTCHA widget needs."""
    directives = {
        "default-src": "'self'",
        "img-src": "'self' https: data:",
        "style-src": "'self' 'unsafe-inline'",
    }
    for name, sources in captcha_csp(services().settings.captcha).items():
        directives[name] = f"{directives.get(name, chr(39) + 'self' + chr(39))} {sources}"
    directives["frame-ancestors"] = frame_ancestors
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _frame_ancestors(response: Response) -> Response:
    allowed = " ".join(sorted(embed_origins()))
    response.headers["Content-Security-Policy"] = page_csp(f"'self' {allowed}".strip())
    response.headers.pop("X-Frame-Options", None)
    return response


@bp.after_request
def _form_csp(response: Response) -> Response:
    if request.path == "/join":
        response.headers["Content-Security-Policy"] = page_csp("'self'")
    return response


@bp.route("/embed/join", methods=["GET", "POST"])
@csrf.exempt
@signup_limit
def embed_join():
    form = EmbedJoinForm()
    if request.method == "POST":
        origin = request.headers.get("Origin", "")
        if origin_of(origin) not in own_origins():
            body = render_template(
                "web/error.html",
                title="Form refused",
                message="This form was sent from another site. Reload it and try again.",
            )
            return _frame_ancestors(Response(body, 403))
        body, status = _handle_post(form, "web/embed_join.html", "embed")
    else:
        body, status = _form_page("web/embed_join.html", form, "embed")
    return _frame_ancestors(Response(body, status))


def _cors(response: Response) -> Response:
    origin = origin_of(request.headers.get("Origin"))
    if origin and origin in embed_origins():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers.add("Vary", "Origin")
    return response


@bp.after_request
def _api_cors(response: Response) -> Response:
    return _cors(response) if request.path.startswith("/api/") else response


@bp.route("/api/subscribe", methods=["OPTIONS"])
@csrf.exempt
def api_preflight():
    return Response(status=204)


@bp.post("/api/subscribe")
@csrf.exempt
@signup_limit
def api_subscribe():
    """JSON for sites that build their own box: {email, first_name?, consent, captcha}."""
    origin = origin_of(request.headers.get("Origin"))
    if origin and origin not in embed_origins() | own_origins():
        return jsonify(error="Forbidden", message="This origin may not subscribe readers."), 403
    if not request.is_json:
        return jsonify(error="Bad Request", message="Send a JSON body (application/json)."), 415
    try:
        data = safejson.loads(request.get_data())
    except ValueError as exc:  # not UTF-8, not JSON, or nested too deep
        message = str(exc) if isinstance(exc, safejson.JSONTooDeep) else "The body is not JSON."
        return jsonify(error="Bad Request", message=message), 400
    if not isinstance(data, dict):
        return jsonify(error="Bad Request", message="The body must be a JSON object."), 400
    email, name, token = data.get("email"), data.get("first_name"), data.get("captcha")
    errors: dict[str, list[str]] = {}
    if not isinstance(email, str) or not email.strip():
        errors["email"] = ["Enter your email address."]
    if name is not None and not isinstance(name, str):
        errors["first_name"] = ["The first name must be text."]
    if data.get("consent") is not True:
        errors["consent"] = ["Consent must be true: the reader ticked the box."]
    if not isinstance(token, str) or not token:
        errors["captcha"] = ["A CAPTCHA solution is required."]
    if errors:
        return jsonify(error="Invalid input", errors=errors), 400
    page = data.get("page") if isinstance(data.get("page"), str) else origin
    attempt = attempt_signup(email, name, token, "api", page)
    if attempt.status == 503:
        return jsonify(error="Unavailable", message=attempt.message), 503
    if not attempt.ok:
        return jsonify(error="Invalid input", errors=attempt.errors), attempt.status
    return jsonify(
        status="ok", message="Check your inbox: we sent a link to confirm your subscription."
    )
