"""One Flask-Limiter for the app; each blueprint applies its own limits to it."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from mailer.web.limit_storage import ProcessMemoryStorage

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def init_limiter(app: Flask, storage_uri: str) -> None:
    """`memory://` means our per-process storage (no timer thread); other URIs go to `limits`."""
    if storage_uri.startswith("memory://"):
        storage_uri = ProcessMemoryStorage.STORAGE_SCHEME[0] + "://"
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    limiter.init_app(app)
