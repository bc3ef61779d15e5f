"""The WSGI entry point: `flask --app app run`, `gunicorn app:app`, and tests' create_app()."""

from __future__ import annotations

from flask import Flask

from mailer.core.config import Settings
from mailer.services import Services, build, load_settings
from mailer.web import init_app


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the web app on the same services as the CLI and the scheduler."""
    if services is None:
        if settings is None:
            from mailer.core.env import load_dotenv_once

            load_dotenv_once()
            settings = load_settings()
        services = build(settings)
    return init_app(services)


class _LazyApp:
    """`app` for servers that import it; built on first request so importing never fails."""

    _app: Flask | None = None

    def __call__(self, environ, start_response):
        if self._app is None:
            self._app = create_app()
        return self._app(environ, start_response)


app = _LazyApp()
