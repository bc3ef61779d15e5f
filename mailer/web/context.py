"""What every blueprint shares: the app's Services and the CSRF guard, without importing the app."""

from __future__ import annotations

from flask import current_app
from flask_wtf.csrf import CSRFProtect

from mailer.services import Services

csrf = CSRFProtect()


def services() -> Services:
    """The Services the app was built with, for view functions."""
    return current_app.extensions["mailer"]
