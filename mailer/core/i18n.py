"""Readers' languages: the shipped catalogues, read once per process, and the locale's formats."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

# mailer/translations/<language>/LC_MESSAGES/messages.po; English is the source language.
CATALOGUES = Path(__file__).resolve().parents[1] / "translations"
SOURCE_LANGUAGE = "en"
DOMAIN = "messages"


def catalogue_path(language: str) -> Path:
    return CATALOGUES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def shipped() -> tuple[str, ...]:
    """The languages a reader can be served in: English and every catalogue we ship."""
    found = sorted(p.parent.parent.name for p in CATALOGUES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *[code for code in found if code != SOURCE_LANGUAGE])


def language_problem(code: str) -> str | None:
    """Why a language code cannot be served, or None."""
    try:
        Locale.parse(code)
    except (UnknownLocaleError, ValueError, TypeError):
        return f"{code!r} is not a language code such as en or de"
    if code not in shipped():
        return f"there is no catalogue for {code!r} (shipped: {', '.join(shipped())})"
    return None


@lru_cache(maxsize=16)
def translations(language: str) -> NullTranslations:
    """One language's messages, read from its .po once per process: no compiled .mo file to
    build at install or keep in step with the catalogue (fuzzy entries are left out)."""
    path = catalogue_path(language)
    if language == SOURCE_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as fp:
        catalogue = read_po(fp, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def pick(wanted: str | None, supported: tuple[str, ...], default: str) -> str:
    """A supported language for a code a reader, a page or a header gave ('de-AT' is 'de')."""
    code = (wanted or "").strip().replace("_", "-").lower()
    if code in supported:
        return code
    primary = code.split("-", 1)[0]
    return primary if primary in supported else default


def gettext_for(language: str, message: str, **values: object) -> str:
    """A message of Python code (not a template) in a reader's language."""
    text = translations(language).gettext(message)
    return text % values if values else text


def ngettext_for(language: str, singular: str, plural: str, n: int, **values: object) -> str:
    text = translations(language).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def long_date(moment: date | datetime, language: str) -> str:
    """A date as readers of the language write it: Monday 30 November 2026, Montag, 30. November
    2026. English keeps the newsroom's day-month order."""
    if language == SOURCE_LANGUAGE:
        return format_date(moment, "EEEE d MMMM y", locale="en")
    return format_date(moment, "full", locale=language)


def number(value: float, language: str) -> str:
    """A number written for the language (1,234 or 1.234)."""
    return format_decimal(value, locale=language)


def long_datetime(moment: datetime, language: str) -> str:
    """A moment with its zone, as the confirmation mail says until when its link works."""
    if language == SOURCE_LANGUAGE:
        return moment.strftime("%A %d %B %Y, %H:%M %Z")
    day = format_date(moment, "full", locale=language)
    return f"{day}, {moment.strftime('%H:%M %Z')}"


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where shown."""
    return message
