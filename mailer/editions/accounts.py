"""Editor accounts: scrypt-hashed passwords, two roles, sessions that end; nothing Flask-specific.

A signed-in browser holds only the claims of new_session (who, which session generation, when);
session_editor honours them only while the generation is current and neither the idle nor the
absolute lifetime has run out. Logout and a password change bump the generation, so a copied
cookie dies with them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import Editor

ROLES = ("editor", "viewer")
MIN_PASSWORD = 10
# OWASP's scrypt advice: N=2^17, r=8, p=1 (MAILER_EDITOR_PASSWORD_COST is the 17).
DEFAULT_COST = 17
_R, _P = 8, 1
_MAX_COST = 20  # a stored hash asking for more memory than 2^20 * 1 KiB is refused


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """scrypt with room for its 128*N*r bytes of memory (OpenSSL's default cap is 32 MiB)."""
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    """scrypt with N=2^cost; the parameters are stored so older hashes still verify."""
    salt, n = secrets.token_bytes(16), 2**cost
    digest = _scrypt(password, salt, n, _R, _P, 32)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return "$".join(["scrypt", str(n), str(_R), str(_P), *encoded])


def _parameters(stored: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt" or not 1 < int(n) <= 2**_MAX_COST or not 0 < int(r) * int(p) <= 64:
        raise ValueError("not a hash we made")
    return int(n), int(r), int(p), base64.b64decode(salt), base64.b64decode(digest)


def check_password(stored: str, password: str) -> bool:
    try:
        n, r, p, salt, expected = _parameters(stored)
        actual = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str, cost: int = DEFAULT_COST) -> bool:
    """True for a hash made with less work than `cost` asks (such as the old N=2^14)."""
    try:
        n, r, p, _salt, _digest = _parameters(stored)
    except (ValueError, TypeError):
        return True
    return n < 2**cost or (r, p) != (_R, _P)


@functools.cache
def _dummy_hash(cost: int) -> str:
    """A hash to compare against when the address is unknown, so timing reveals no account."""
    return hash_password(secrets.token_hex(16), cost)


def normalise(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or any(c.isspace() for c in email) or len(email) > 320:
        raise MailerError(f"{email!r} is not an email address.")
    return email


def _check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise MailerError(f"the password needs at least {MIN_PASSWORD} characters.")


def add_editor(
    session: Session,
    email: str,
    password: str,
    role: str,
    now: datetime,
    *,
    cost: int = DEFAULT_COST,
) -> Editor:
    email = normalise(email)
    if role not in ROLES:
        raise MailerError(f"role must be one of: {', '.join(ROLES)}.")
    _check_length(password)
    if session.scalar(select(Editor).where(Editor.email == email)):
        raise Conflict(f"an editor {email} exists already.")
    editor = Editor(
        email=email,
        password_hash=hash_password(password, cost),
        role=role,
        active=True,
        created_at=now,
    )
    session.add(editor)
    session.flush()
    return editor


def list_editors(session: Session) -> list[Editor]:
    return list(session.scalars(select(Editor).order_by(Editor.email)))


def remove_editor(session: Session, email: str) -> None:
    editor = session.scalar(select(Editor).where(Editor.email == normalise(email)))
    if editor is None:
        raise NotFound(f"no editor {email}.")
    session.delete(editor)


def authenticate(
    session: Session, email: str, password: str, now: datetime, *, cost: int = DEFAULT_COST
) -> Editor | None:
    """The active editor with these credentials, or None; same work either way. A hash made
    with less work than `cost` is replaced while the password is at hand."""
    try:
        email = normalise(email)
    except MailerError:
        email = ""
    editor = session.scalar(select(Editor).where(Editor.email == email)) if email else None
    ok = check_password(editor.password_hash if editor else _dummy_hash(cost), password)
    if editor is None or not ok or not editor.active:
        return None
    if needs_rehash(editor.password_hash, cost):
        editor.password_hash = hash_password(password, cost)
    editor.last_login_at = now
    return editor


def set_password(
    session: Session, email: str, password: str, now: datetime, *, cost: int = DEFAULT_COST
) -> Editor:
    """A new password; every session signed in with the old one ends."""
    _check_length(password)
    editor = session.scalar(select(Editor).where(Editor.email == normalise(email)))
    if editor is None:
        raise NotFound(f"no editor {email}.")
    editor.password_hash = hash_password(password, cost)
    end_sessions(session, editor.id)
    return editor


def end_sessions(session: Session, editor_id: int) -> None:
    """Every session of this editor, on every device, stops being honoured."""
    session.execute(
        update(Editor)
        .where(Editor.id == editor_id)
        .values(session_generation=Editor.session_generation + 1)
        .execution_options(synchronize_session=False)
    )


SESSION_KEYS = ("editor_id", "generation", "signed_in", "seen")


def new_session(editor: Editor, now: datetime) -> dict[str, int]:
    """What a signed-in browser holds: who, which generation, since when; no password part."""
    stamp = int(now.timestamp())
    return dict(
        zip(SESSION_KEYS, (editor.id, editor.session_generation, stamp, stamp), strict=True)
    )


def session_editor(
    session: Session, claims: Mapping, now: datetime, idle: timedelta, lifetime: timedelta
) -> Editor | None:
    """The active editor these claims still speak for, or None once the session has ended."""
    try:
        editor_id, generation, signed_in, seen = (int(claims[key]) for key in SESSION_KEYS)
    except (KeyError, TypeError, ValueError):
        return None
    moment = now.timestamp()
    if moment - seen > idle.total_seconds() or moment - signed_in > lifetime.total_seconds():
        return None
    editor = session.get(Editor, editor_id)
    if editor is None or not editor.active or editor.session_generation != generation:
        return None
    return editor
