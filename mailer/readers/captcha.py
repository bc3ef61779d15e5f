"""One verify() for every CAPTCHA provider; failing closed when a provider cannot answer."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import urllib.parse
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import altcha
import requests
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from mailer.core import safejson
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import CaptchaSolution
from mailer.core.prepared import Prepared

log = logging.getLogger(__name__)

SITEVERIFY_URLS = {
    "recaptcha-v2": "https://www.google.com/recaptcha/api/siteverify",
    "recaptcha-v3": "https://www.google.com/recaptcha/api/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
}
TOKEN_FIELDS = {
    "altcha": "altcha",
    "recaptcha-v2": "g-recaptcha-response",
    "recaptcha-v3": "g-recaptcha-response",
    "hcaptcha": "h-captcha-response",
    "turnstile": "cf-turnstile-response",
    "none": "captcha",
}
SITEVERIFY_TIMEOUT = 5.0
ALTCHA_ALGORITHM = "SHA-256"
ALTCHA_LIFETIME = timedelta(minutes=20)
MAX_TOKEN_LENGTH = 8192
# A solved CAPTCHA is kept for a form sent back for other mistakes, this long, for one signup.
PASS_LIFETIME = timedelta(minutes=10)
KEPT_FIELD = "captcha_kept"
# Spent solutions past their expiry are deleted at most this often per process and database.
PRUNE_EVERY = timedelta(minutes=1)
# Provider error codes that mean our keys are wrong: the visitor cannot fix these.
CONFIG_ERRORS = {
    "missing-input-secret",
    "invalid-input-secret",
    "sitekey-secret-mismatch",
    "invalid-sitekey",
    "missing-sitekey",
    "invalid-keys",
}


@dataclass(frozen=True)
class CaptchaResult:
    """What the page needs to decide: verified, refused, or ask the visitor to try again (503)."""

    ok: bool
    provider: str
    detail: str
    score: float | None = None
    unavailable: bool = False
    # A verified ALTCHA solution not yet recorded as used: (its hash, its expiry). Only a
    # verify(spend=False) leaves one, for the caller to spend in its own transaction.
    unspent: tuple[str, datetime] | None = field(default=None, compare=False, repr=False)


def token_field(settings: Settings) -> str:
    """The form field the configured widget posts its answer in."""
    return TOKEN_FIELDS[settings.captcha]


def verify(
    settings: Settings,
    http: requests.Session,
    db: Database,
    token: str,
    remote_ip: str | None,
    now: datetime,
    *,
    action: str = "subscribe",
    timeout: float = SITEVERIFY_TIMEOUT,
    spend: bool = True,
) -> CaptchaResult:
    """Check a widget's answer on the server, as every path that creates a subscription must.
    With spend=False a good ALTCHA solution comes back unspent: the caller must spend it (see
    spend_in) in the transaction that uses it, and refuse if that says it was used before."""
    provider = settings.captcha
    if provider == "none":
        return CaptchaResult(True, provider, "disabled")
    token = (token or "").strip()
    if not token:
        return CaptchaResult(False, provider, "missing")
    if len(token) > MAX_TOKEN_LENGTH:
        return CaptchaResult(False, provider, "invalid")
    if provider == "altcha":
        result = _verify_altcha(settings, token, now)
        if spend and result.unspent is not None:
            return result if spend_now(db, result, now) else _replayed(result)
        return result
    return _verify_siteverify(settings, http, token, remote_ip, action, timeout)


# --- ALTCHA: our own proof of work ------------------------------------------------------------


def altcha_key(settings: Settings) -> bytes:
    """The HMAC key for challenges: the CAPTCHA secret, else one derived from the secret key."""
    if settings.captcha_secret:
        return settings.captcha_secret.encode()
    return hmac.new(settings.secret_key.encode(), b"altcha-challenge", hashlib.sha256).digest()


def new_challenge(
    settings: Settings, now: datetime, *, max_number: int | None = None
) -> dict[str, Any]:
    """A signed, expiring challenge for the ALTCHA widget (its v1 JSON shape); its cost is
    MAILER_ALTCHA_MAX_NUMBER unless a caller (a test) asks for less."""
    challenge = altcha.create_challenge_v1(
        algorithm=ALTCHA_ALGORITHM,
        max_number=max_number or settings.altcha_max_number,
        salt_length=12,
        hmac_key=altcha_key(settings),
        salt="",
        number=None,
        expires=now + ALTCHA_LIFETIME,
        params=None,
    )
    return challenge.to_dict()


def _decode_altcha(token: str) -> dict[str, Any] | None:
    try:
        data = safejson.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    fields = {"algorithm": str, "challenge": str, "number": int, "salt": str, "signature": str}
    for name, kind in fields.items():
        value = data.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return None
    return data


def _altcha_expiry(salt: str) -> float | None:
    query = salt.split("?", 1)[1] if "?" in salt else ""
    values = urllib.parse.parse_qs(query).get("expires")
    try:
        return float(values[0]) if values and len(values) == 1 else None
    except ValueError:
        return None


def _verify_altcha(settings: Settings, token: str, now: datetime) -> CaptchaResult:
    """Genuine and unexpired, left unspent: the caller spends it."""
    payload = _decode_altcha(token)
    if payload is None or payload["algorithm"] != ALTCHA_ALGORITHM:
        return CaptchaResult(False, "altcha", "invalid")
    ok, _error = altcha.verify_solution_v1(payload, altcha_key(settings), check_expires=False)
    if not ok:
        return CaptchaResult(False, "altcha", "invalid")
    expires = _altcha_expiry(payload["salt"])  # signed: the salt is inside the hashed challenge
    if expires is None or expires <= now.timestamp():
        return CaptchaResult(False, "altcha", "expired")
    unspent = (_solution_hash(payload["signature"]), datetime.fromtimestamp(expires, now.tzinfo))
    return CaptchaResult(True, "altcha", "ok", unspent=unspent)


def _replayed(result: CaptchaResult) -> CaptchaResult:
    return CaptchaResult(False, result.provider, "replayed")


def spend_now(db: Database, result: CaptchaResult, now: datetime) -> bool:
    """Spend a result's solution in a transaction of its own; False when it was used before."""
    if result.unspent is None:
        return True
    with db.engine.begin() as conn:
        return spend_in(conn, result, now)


def spend_in(conn: Connection, result: CaptchaResult, now: datetime) -> bool:
    """Record the result's solution as used, inside the caller's transaction, so one solution
    admits one signup; False when it was used before (a racing twin waits for the first to
    commit). True when nothing is left to spend (another provider spends its own tokens)."""
    if result.unspent is None:
        return True
    digest, expires_at = result.unspent
    _prune(conn, now)
    stmt = _spend_statement(conn.dialect.name)
    return stmt.first(conn, {"solution_hash": digest, "expires_at": expires_at}) is not None


_spend_statements: dict[str, Any] = {}
_pruned: weakref.WeakKeyDictionary[Engine, datetime] = weakref.WeakKeyDictionary()


def _spend_statement(dialect: str):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: a row back means this call spent it.
    Built once per dialect."""
    if dialect not in _spend_statements:
        spent = CaptchaSolution.__table__
        insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert_for(spent)
            .values(solution_hash=bindparam("solution_hash"), expires_at=bindparam("expires_at"))
            .on_conflict_do_nothing()
            .returning(spent.c.solution_hash)
        )
        _spend_statements[dialect] = Prepared(stmt)
    return _spend_statements[dialect]


def _prune(conn: Connection, now: datetime) -> None:
    """Delete expired records, at most once per PRUNE_EVERY per database in this process (a
    spent solution is refused by its own expiry anyway; the rows only take room)."""
    last = _pruned.get(conn.engine)
    if last is not None and last <= now < last + PRUNE_EVERY:
        return
    spent = CaptchaSolution.__table__
    conn.execute(delete(spent).where(spent.c.expires_at < now))
    _pruned[conn.engine] = now


def _solution_hash(signature: str) -> str:
    return hashlib.sha256(signature.encode()).hexdigest()


def _spent(db: Database, signature: str) -> bool:
    spent = CaptchaSolution.__table__
    with db.engine.connect() as conn:
        query = select(spent.c.solution_hash).where(
            spent.c.solution_hash == _solution_hash(signature)
        )
        return conn.execute(query).first() is not None


# --- passes: a solved CAPTCHA kept while the visitor fixes other fields ----------------------


def _pass_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="mailer.captcha-pass")


def issue_pass(settings: Settings, result: CaptchaResult, now: datetime) -> str:
    """A signed note that this visitor solved the CAPTCHA, so a form sent back for other
    mistakes need not ask again. It expires after PASS_LIFETIME and lets one signup through:
    redeem_pass spends it, as an ALTCHA solution is spent."""
    payload = {
        "id": secrets.token_hex(16),
        "p": result.provider,
        "e": (now + PASS_LIFETIME).timestamp(),
    }
    return _pass_serializer(settings).dumps(payload)


def _read_pass(settings: Settings, token: str, now: datetime) -> dict[str, Any] | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = _pass_serializer(settings).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") != settings.captcha:
        return None  # a pass from before the provider changed proves nothing now
    if not isinstance(data.get("id"), str) or not isinstance(data.get("e"), float | int):
        return None
    return data if data["e"] > now.timestamp() else None


def pass_is_live(settings: Settings, db: Database, token: str, now: datetime) -> bool:
    """Genuine, unexpired and not yet spent: worth keeping in the form sent back."""
    data = _read_pass(settings, token, now)
    return data is not None and not _spent(db, "pass:" + data["id"])


def redeem_pass(settings: Settings, db: Database, token: str, now: datetime) -> CaptchaResult:
    """Spend a pass for the signup it lets through; a spent one is refused like a replayed
    ALTCHA solution, so one solved CAPTCHA never admits two signups."""
    data = _read_pass(settings, token, now)
    if data is None:
        return CaptchaResult(False, settings.captcha, "invalid")
    expires_at = datetime.fromtimestamp(float(data["e"]), now.tzinfo)
    kept = CaptchaResult(True, settings.captcha, "ok-kept")
    unspent = CaptchaResult(
        True,
        settings.captcha,
        "ok-kept",
        unspent=(_solution_hash("pass:" + data["id"]), expires_at),
    )
    return kept if spend_now(db, unspent, now) else _replayed(kept)


# --- reCAPTCHA v2/v3, hCaptcha, Turnstile: the provider's siteverify --------------------------


def allowed_hostnames(settings: Settings) -> set[str]:
    """Where our widget may be solved: this service's host and the sites that embed the form."""
    hosts = {urllib.parse.urlsplit(settings.base_url).hostname}
    hosts.update(urllib.parse.urlsplit(origin).hostname for origin in settings.embed_origins)
    return {host.lower() for host in hosts if host}


def _unavailable(provider: str, reason: str) -> CaptchaResult:
    log.warning("captcha %s siteverify unavailable: %s", provider, reason)
    return CaptchaResult(False, provider, "unavailable", unavailable=True)


def _refusal(provider: str, codes: list[str]) -> CaptchaResult:
    if CONFIG_ERRORS.intersection(codes):
        log.warning("captcha %s refused our keys: %s", provider, ", ".join(codes))
        return CaptchaResult(False, provider, "misconfigured", unavailable=True)
    if "missing-input-response" in codes:
        return CaptchaResult(False, provider, "missing")
    if "already-seen-response" in codes:
        return CaptchaResult(False, provider, "replayed")
    if "timeout-or-duplicate" in codes:
        return CaptchaResult(False, provider, "expired")
    return CaptchaResult(False, provider, "invalid")


def _verify_siteverify(
    settings: Settings,
    http: requests.Session,
    token: str,
    remote_ip: str | None,
    action: str,
    timeout: float,
) -> CaptchaResult:
    provider = settings.captcha
    url = settings.captcha_verify_url or SITEVERIFY_URLS[provider]
    form = {"secret": settings.captcha_secret, "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    if provider == "hcaptcha" and settings.captcha_site_key:
        form["sitekey"] = settings.captcha_site_key
    try:
        response = http.post(url, data=form, timeout=timeout)
    except requests.RequestException as exc:
        return _unavailable(provider, f"{type(exc).__name__}")
    if response.status_code != 200:
        return _unavailable(provider, f"HTTP {response.status_code}")
    try:
        answer = safejson.loads(response.content)
    except ValueError:
        return _unavailable(provider, "the answer is not JSON")
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        return _unavailable(provider, "the answer has no boolean 'success'")
    if not answer["success"]:
        codes = answer.get("error-codes") or []
        return _refusal(provider, [str(c) for c in codes] if isinstance(codes, list) else [])
    return _check_success(settings, provider, answer, action)


def _check_success(
    settings: Settings, provider: str, answer: dict[str, Any], action: str
) -> CaptchaResult:
    hostname = answer.get("hostname")
    if not isinstance(hostname, str) or hostname.lower() not in allowed_hostnames(settings):
        log.info("captcha %s solved on a host not ours: %r", provider, hostname)
        return CaptchaResult(False, provider, "wrong-hostname")
    if provider == "recaptcha-v3":
        score = answer.get("score")
        if not isinstance(score, int | float) or isinstance(score, bool):
            return _unavailable(provider, "a v3 answer without a numeric 'score'")
        if answer.get("action") != action:
            return CaptchaResult(False, provider, "wrong-action", score=float(score))
        if score < settings.captcha_min_score:
            return CaptchaResult(False, provider, "low-score", score=float(score))
        return CaptchaResult(True, provider, "ok", score=float(score))
    if provider == "turnstile" and answer.get("action") and answer["action"] != action:
        return CaptchaResult(False, provider, "wrong-action")
    return CaptchaResult(True, provider, "ok")
