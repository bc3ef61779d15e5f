"""What a reader may type: addresses and first names checked the same way by every caller."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from mailer.core.config import Settings
from mailer.core.i18n import N_

NAME_MAX = 60


class InvalidInput(ValueError):
    """A field the reader can fix; `field` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def normalise_email(raw: str, settings: Settings | None = None) -> str:
    """The address as stored (lowercased), or InvalidInput; DNS only when settings ask for it."""
    raw = (raw or "").strip()
    if not raw:
        raise InvalidInput("email", N_("Enter your email address."))
    if _has_control(raw):
        raise InvalidInput("email", N_("The address contains a character that is not allowed."))
    if len(raw) > 320:
        raise InvalidInput("email", N_("That address is too long."))
    try:
        # Lookups and bulk imports pass no settings: a stored address must always be findable.
        dns = settings is not None and settings.check_deliverability
        info = validate_email(raw, check_deliverability=dns)
    except EmailNotValidError as exc:
        raise InvalidInput("email", str(exc)) from None
    return info.normalized.lower()


def clean_first_name(raw: str | None) -> str | None:
    """Letters, spaces, apostrophes and hyphens, at most 60: safe for any greeting or header."""
    if raw is None or not raw.strip():
        return None
    raw = unicodedata.normalize("NFC", raw)  # a keyboard may send "é" as e + U+0301
    if _has_control(raw):
        raise InvalidInput("first_name", N_("Your name contains a character that is not allowed."))
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise InvalidInput("first_name", N_("Keep your first name to 60 characters."))
    if not _name_letters(name):
        raise InvalidInput(
            "first_name", N_("Use letters, spaces, apostrophes and hyphens in your first name.")
        )
    return name


def _name_letters(name: str) -> bool:
    """Letters, with the accents and vowel signs that no precomposed letter has (प्रिया)."""
    in_letter = False  # a combining mark may only follow a letter (or another mark)
    for c in name:
        if unicodedata.category(c) in ("Mn", "Mc"):
            if not in_letter:
                return False
        elif c.isalpha():
            in_letter = True
        elif c in " '-\u2019":
            in_letter = False
        else:
            return False
    return True
