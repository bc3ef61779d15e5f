"""Editor accounts: scrypt-hashed passwords, two roles, nothing Flask-specific."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import Editor

ROLES = ("editor", "viewer")
MIN_PASSWORD = 10
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return "$".join(["scrypt", str(_N), str(_R), str(_P), *encoded])


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash to compare against when the address is unknown, so timing does not reveal accounts.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def normalise(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or any(c.isspace() for c in email) or len(email) > 320:
        raise MailerError(f"{email!r} is not an email address.")
    return email


def add_editor(session: Session, email: str, password: str, role: str, now: datetime) -> Editor:
    email = normalise(email)
    if role not in ROLES:
        raise MailerError(f"role must be one of: {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise MailerError(f"the password needs at least {MIN_PASSWORD} characters.")
    if session.scalar(select(Editor).where(Editor.email == email)):
        raise Conflict(f"an editor {email} exists already.")
    editor = Editor(
        email=email, password_hash=hash_password(password), role=role, active=True, created_at=now
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


def authenticate(session: Session, email: str, password: str, now: datetime) -> Editor | None:
    """The active editor with these credentials, or None; same work either way."""
    try:
        email = normalise(email)
    except MailerError:
        email = ""
    editor = session.scalar(select(Editor).where(Editor.email == email)) if email else None
    ok = check_password(editor.password_hash if editor else _DUMMY_HASH, password)
    if editor is None or not ok or not editor.active:
        return None
    editor.last_login_at = now
    return editor
