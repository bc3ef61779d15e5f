"""What every blueprint shares: the app's Services and the CSRF guard, without importing the app."""

from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, g, request
from flask_babel import get_locale
from flask_wtf.csrf import CSRFProtect

from mailer.services import Services

csrf = CSRFProtect()


def services() -> Services:
    """The Services the app was built with, for view functions."""
    return current_app.extensions["mailer"]


def small_file(path: Path, mimetype: str, max_age: int) -> Response:
    """A small file of ours, read whole: no open file is left behind when a browser drops the
    request half way (send_file streams from an open file, which then waits for the GC)."""
    response = current_app.response_class(path.read_bytes(), mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.add_etag()
    return response.make_conditional(request)


def page_language() -> str:
    """The language this request is answered in (Flask-Babel's choice), as a code."""
    return str(get_locale())


def use_reader_language(language: str | None) -> None:
    """A page about one reader speaks their stored language (unless ?lang= asks otherwise)."""
    g.reader_language = language
