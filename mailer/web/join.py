"""The Join form, its embeddable twin and the JSON API: one path into subscriptions.subscribe."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from mailer.core import safejson
from mailer.core.i18n import N_, SOURCE_LANGUAGE
from mailer.readers import captcha, newsletters, subscriptions, validation
from mailer.web.captcha import captcha_csp
from mailer.web.context import csrf, page_language, services, use_reader_language
from mailer.web.forms import TOO_FAST, EmbedJoinForm, JoinForm, make_stamp, read_stamp
from mailer.web.limits import limiter

log = logging.getLogger(__name__)
bp = Blueprint("join", __name__)

CAPTCHA_FAILED = N_("The CAPTCHA check did not pass. Please try it again.")
UNAVAILABLE = N_("We could not check the CAPTCHA just now. Please try again in a minute.")


def signup_limits() -> str:
    return services().settings.signup_rate_limits


MAILING_ACTIONS = ("fresh-link", "resubscribe")  # these mail the reader, like a signup


def _not_a_signup() -> bool:
    """Confirming and preferences are not limited; asking for a fresh link or to come back
    mails the reader, so it counts like a signup."""
    links = ("/confirm/", "/unsubscribe/", "/preferences/")
    return request.path.startswith(links) and request.form.get("action") not in MAILING_ACTIONS


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


@bp.context_processor
def _embed_context() -> dict[str, object]:
    """Where an embed page may send its height: the sites allowed to frame it, and us."""
    return {"embed_parent_origins": sorted(o for o in embed_origins() | own_origins() if o)}


def client_ip() -> str | None:
    return request.remote_addr


@dataclass
class Attempt:
    """The outcome of one submission, whichever door it came through."""

    status: int = 200
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str = ""
    captcha_pass: str = ""  # a solved CAPTCHA kept for the form sent back

    @property
    def ok(self) -> bool:
        return self.status == 200


def checked_fields(email: str, first_name: str | None) -> tuple[dict[str, list[str]], str | None]:
    """Every mistake in the address and the name at once, by field, and the address as
    stored when it is valid (so the signup need not check it a second time)."""
    settings = services().settings
    errors: dict[str, list[str]] = {}
    stored = None
    try:
        stored = validation.normalise_email(email, settings)
    except validation.InvalidInput as exc:
        errors.setdefault(exc.field, []).append(reader_message(exc))
    try:
        validation.clean_first_name(first_name)
    except validation.InvalidInput as exc:
        errors.setdefault(exc.field, []).append(reader_message(exc))
    return errors, stored


NO_NEWSLETTER = N_("Choose at least one newsletter.")
MAX_CHOICES = 32


def chosen_newsletters(raw: object, offers: list[newsletters.Offer]) -> tuple[str, ...] | str:
    """The slugs a reader ticked or an API caller listed, checked against what the site offers;
    None (no choice offered or made) is the default newsletter. A message in the page's
    language when it is wrong."""
    if raw is None:
        return tuple(o.slug for o in offers if o.is_default)
    if not isinstance(raw, list) or len(raw) > MAX_CHOICES:
        return gettext(
            'List the newsletters as up to %(count)s slugs, such as ["weekly"].',
            count=MAX_CHOICES,
        )
    if not raw:
        return gettext(NO_NEWSLETTER)
    known = {o.slug for o in offers}
    for slug in raw:
        if not isinstance(slug, str) or slug not in known:
            shown = repr(str(slug)[:64])
            return gettext("There is no newsletter called %(name)s.", name=shown)
    return tuple(dict.fromkeys(raw))


def _form_choice(offers: list[newsletters.Offer]) -> tuple[str, ...] | str:
    """The ticked boxes; a form that showed none (one newsletter) means the default."""
    if not request.form.get("newsletters_shown"):
        return chosen_newsletters(None, offers)
    return chosen_newsletters(request.form.getlist("newsletters"), offers)


def reader_message(exc: validation.InvalidInput) -> str:
    """The message in the page's language; the address checker's own detailed reasons are
    English, so another language gets one plain sentence instead."""
    text = gettext(exc.message)
    if text == exc.message and exc.field == "email" and page_language() != SOURCE_LANGUAGE:
        return gettext("This is not a valid email address.")
    return text


def check_captcha(token: str, kept: str, channel: str) -> captcha.CaptchaResult:
    """The widget's answer checked (an ALTCHA solution left unspent: the signup spends it in
    its own transaction), or a pass kept from an earlier try."""
    svc = services()
    settings, now = svc.settings, svc.now()
    if kept and captcha.pass_is_live(settings, svc.db, kept, now):
        return captcha.CaptchaResult(True, settings.captcha, "ok-kept")
    result = captcha.verify(settings, svc.http, svc.db, token or "", client_ip(), now, spend=False)
    if result.unavailable:
        log.warning("captcha %s unavailable: %s", result.provider, result.detail)
    elif not result.ok:
        _refused(result, channel)
    return result


def _refused(result: captcha.CaptchaResult, channel: str) -> None:
    log.info("captcha %s refused a %s signup: %s", result.provider, channel, result.detail)


def _keep(
    result: captcha.CaptchaResult, kept: str, channel: str
) -> tuple[captcha.CaptchaResult, str]:
    """A form sent back for other mistakes keeps a solved CAPTCHA as a pass, so the visitor
    need not solve it again: the solution is spent now (it can never admit a signup itself),
    and one used before is refused as a replay."""
    svc = services()
    settings, now = svc.settings, svc.now()
    if settings.captcha == "none":
        return result, ""
    if result.detail == "ok-kept":
        return result, kept
    if not captcha.spend_now(svc.db, result, now):
        result = captcha.CaptchaResult(False, result.provider, "replayed")
        _refused(result, channel)
        return result, ""
    return result, captcha.issue_pass(settings, result, now)


def _captcha_note(result: captcha.CaptchaResult, signal: str) -> str:
    """What the consent record keeps of the checks: the CAPTCHA's verdict, score and speed."""
    score = "" if result.score is None else f"score={result.score}"
    return " ".join(part for part in (result.detail, score, signal) if part)


def attempt_signup(
    email: str,
    first_name: str | None,
    token: str,
    channel: str,
    page: str | None,
    *,
    errors: dict[str, list[str]] | None = None,
    kept: str = "",
    signal: str = "",
    chosen: tuple[str, ...] = (),
    several: bool = False,
    stored_email: str | None = None,
) -> Attempt:
    """Validate everything, check the CAPTCHA, subscribe (spending the CAPTCHA in the signup's
    own transaction); the same answer for every address state. With other mistakes a solved
    CAPTCHA comes back as a pass."""
    svc = services()
    settings, now = svc.settings, svc.now()
    errors = {**(errors or {})}
    if stored_email is None:  # the API's caller checked the fields already and passes it
        found, stored_email = checked_fields(email, first_name)
        for name, messages in found.items():
            errors.setdefault(name, messages)  # a field the form marked keeps its message
    result = check_captcha(token, kept, channel)
    if result.unavailable:
        return Attempt(503, errors, gettext(UNAVAILABLE))
    keep = ""
    if errors and result.ok:
        result, keep = _keep(result, kept, channel)
    if not result.ok:
        errors["captcha"] = [gettext(CAPTCHA_FAILED)]
    if errors:
        return Attempt(400, errors, captcha_pass=keep)
    if result.detail == "ok-kept":
        result = captcha.redeem_pass(settings, svc.db, kept, now)
        if not result.ok:
            return Attempt(400, {"captcha": [gettext(CAPTCHA_FAILED)]})
    signup = subscriptions.Signup(
        email=stored_email or email,
        email_checked=stored_email is not None,
        first_name=first_name,
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
        origin=page or request.headers.get("Origin") or request.referrer,
        channel=channel,
        captcha_provider=result.provider,
        captcha_result=_captcha_note(result, signal),
        consent_text_hash=subscriptions.consent_hash(
            subscriptions.consent_text(settings, page_language(), several)
        ),
        language=page_language(),
        newsletters=chosen,
    )
    try:
        outcome = subscriptions.subscribe(
            svc.db, settings, signup, now, gate=lambda conn: captcha.spend_in(conn, result, now)
        )
    except validation.InvalidInput as exc:
        return Attempt(400, {exc.field: [reader_message(exc)]})
    if outcome.result == "refused":  # the solution was spent by another request meanwhile
        _refused(captcha.CaptchaResult(False, result.provider, "replayed"), channel)
        return Attempt(400, {"captcha": [gettext(CAPTCHA_FAILED)]})
    log.info("signup via %s: %s (subscriber %s)", channel, outcome.result, outcome.subscriber_id)
    return Attempt(200)


FIELD_ORDER = ("email", "first_name", "newsletters", "consent", "captcha")


def _form_page(
    template: str,
    form,
    kind: str,
    attempt: Attempt | None = None,
    page: str | None = None,
    chosen: tuple[str, ...] | None = None,
):
    svc = services()
    settings = svc.settings
    offers = newsletters.offers(svc.db)
    if chosen is None:
        chosen = tuple(o.slug for o in offers if o.is_default)
    if request.method == "GET":
        page = request.referrer  # the article the reader came from, kept in the signed stamp
    form.stamp.data = make_stamp(settings.secret_key, svc.now(), kind, page)
    errors = attempt.errors if attempt else {}
    invalid = [name for name in FIELD_ORDER if errors.get(name)]
    body = render_template(
        template,
        form=form,
        errors=errors,
        invalid=invalid,
        message=attempt.message if attempt else "",
        captcha_pass=attempt.captcha_pass if attempt else "",
        kept_field=captcha.KEPT_FIELD,
        consent_text=subscriptions.consent_text(settings, page_language(), len(offers) > 1),
        provider=settings.captcha,
        site_key=settings.captcha_site_key,
        frequency=settings.list_frequency,
        embed_parent=origin_of(page),
        offers=offers,
        chosen=chosen,
    )
    return body, (attempt.status if attempt else 200)


def _handle_post(form, template: str, kind: str):
    """One answer with every mistake marked; success redirects (303), so a reload never posts
    the form again."""
    svc = services()
    settings = svc.settings
    if form.website.data:  # honeypot: bots get the normal answer and nothing happens
        log.info("honeypot filled on %s; dropped", kind)
        return _done(kind)
    stamp = read_stamp(settings.secret_key, form.stamp.data, kind, svc.now())
    form.validate()
    errors = {name: list(messages) for name, messages in form.errors.items()}
    if stamp.error:
        errors.setdefault("form", []).append(gettext(stamp.error))
    offers = newsletters.offers(svc.db)
    choice = _form_choice(offers)
    if isinstance(choice, str):
        errors["newsletters"] = [choice]
    ticked = tuple(request.form.getlist("newsletters")) if isinstance(choice, str) else choice
    signal = ""
    if stamp.too_fast:
        signal = f"fast={stamp.age:.1f}s"
        log.info("%s form sent %.1f s after it was shown", kind, stamp.age)
        if settings.captcha == "none":  # nothing else tells a person from a script here
            errors.setdefault("form", []).append(gettext(TOO_FAST))
    attempt = attempt_signup(
        form.email.data or "",
        form.first_name.data,
        request.form.get(captcha.token_field(settings), ""),
        kind if kind == "embed" else "form",
        stamp.page,
        errors=errors,
        kept=request.form.get(captcha.KEPT_FIELD, ""),
        signal=signal,
        chosen=choice if isinstance(choice, tuple) else (),
        several=len(offers) > 1,
    )
    if not attempt.ok:
        return _form_page(template, form, kind, attempt, stamp.page, ticked)
    return _done(kind)


def _done(kind: str):
    endpoint = "join.embed_sent" if kind == "embed" else "join.sent"
    language = page_language()  # the next page in the language the form was in
    lang = None if language == services().settings.default_language else language
    return redirect(url_for(endpoint, lang=lang), 303)


@bp.route("/join", methods=["GET", "POST"])
@signup_limit
def join():
    form = JoinForm()
    if request.method == "POST":
        return _handle_post(form, "web/join.html", "join")
    return _form_page("web/join.html", form, "join")


@bp.get("/join/sent")
def sent():
    """Where a signup lands after its redirect: nothing of what was typed is in the URL."""
    return render_template("web/check_inbox.html", embedded=False)


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
                title=gettext("Form refused"),
                message=gettext("This form was sent from another site. Reload it and try again."),
            )
            return _frame_ancestors(Response(body, 403))
        answer = _handle_post(form, "web/embed_join.html", "embed")
    else:
        answer = _form_page("web/embed_join.html", form, "embed")
    if isinstance(answer, Response):  # the redirect after a signup
        return _frame_ancestors(answer)
    return _frame_ancestors(Response(*answer))


@bp.get("/embed/join/sent")
def embed_sent():
    return _frame_ancestors(Response(render_template("web/check_inbox.html", embedded=True)))


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
    """JSON for sites that build their own box: {email, first_name?, newsletters?, consent,
    captcha}; `newsletters` lists slugs and defaults to the site's default newsletter."""
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
    if isinstance(data.get("language"), str):  # the site's page language, before the browser's
        use_reader_language(data["language"])
    email, name, token = data.get("email"), data.get("first_name"), data.get("captcha")
    errors: dict[str, list[str]] = {}
    if not isinstance(email, str) or not email.strip():
        errors["email"] = [gettext("Enter your email address.")]
    if name is not None and not isinstance(name, str):
        errors["first_name"] = ["The first name must be text."]
    if data.get("consent") is not True:
        errors["consent"] = ["Consent must be true: the reader ticked the box."]
    offers = newsletters.offers(services().db)
    choice = chosen_newsletters(data.get("newsletters"), offers)
    if isinstance(choice, str):
        errors["newsletters"] = [choice]
    if not isinstance(token, str) or not token:
        errors["captcha"] = ["A CAPTCHA solution is required."]
    stored = None
    if not errors:  # the CAPTCHA is checked (and spent) only once the fields are right
        errors, stored = checked_fields(email, name)
    if errors:
        return jsonify(error="Invalid input", errors=errors), 400
    page = data.get("page") if isinstance(data.get("page"), str) else origin
    several = len(offers) > 1
    attempt = attempt_signup(
        email, name, token, "api", page, chosen=choice, several=several, stored_email=stored
    )
    if attempt.status == 503:
        return jsonify(error="Unavailable", message=attempt.message), 503
    if not attempt.ok:
        return jsonify(error="Invalid input", errors=attempt.errors), attempt.status
    return jsonify(
        status="ok",
        message=gettext("Check your inbox: we sent a link to confirm your subscription."),
    )
