"""Flask-Babel for readers' pages: the language of each request, with catalogues read once."""

from __future__ import annotations

from functools import cached_property

from babel import Locale
from flask import Flask, g, request
from flask_babel import Babel, Domain, get_locale

from mailer.core import i18n
from mailer.core.config import Settings

DESK_LANGUAGE = "en"  # the editors' desk is English only


class _CatalogueDomain(Domain):
    """Translations from mailer.core.i18n's per-process cache (the .po read once), the same
    objects the mail uses; no .mo files and no per-request loading."""

    def get_translations(self):
        locale = get_locale()
        return i18n.translations(str(locale) if locale else i18n.SOURCE_LANGUAGE)


class _Babel(Babel):
    @cached_property
    def domain_instance(self):
        return _CatalogueDomain()


def choose_language(settings: Settings) -> str:
    """?lang= (a link or the switcher), the form's lang field (the page it was shown in), the
    reader's stored language (set by the view), Accept-Language; else the default."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        return DESK_LANGUAGE
    offered, default = settings.languages, settings.default_language
    asked = request.args.get("lang") or (request.form.get("lang") if request.form else None)
    if asked:
        return i18n.pick(asked, offered, default)
    stored = g.get("reader_language")
    if stored:
        return i18n.pick(stored, offered, default)
    return request.accept_languages.best_match(offered) or default


def init_babel(app: Flask, settings: Settings) -> None:
    names = [
        (code, Locale.parse(code).get_display_name(code).capitalize())
        for code in settings.languages
    ]
    _Babel(
        app,
        default_locale=settings.default_language,
        default_timezone=settings.timezone,
        locale_selector=lambda: choose_language(settings),
    )

    @app.context_processor
    def _languages():
        return {"page_language": str(get_locale()), "reader_languages": names}
