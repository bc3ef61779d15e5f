"""The `mailer` command line: a thin layer over Services, which tests build too."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import OperationalError

from mailer.core.config import ConfigError, Settings
from mailer.core.errors import MailerError
from mailer.services import Services, build


class AppContext:
    """Holds the Services, built on first use so `--help` works without a valid config."""

    def __init__(self, services: Services | None = None, settings: Settings | None = None):
        self._services = services
        self._settings = settings

    @property
    def settings(self) -> Settings:
        if self._services is not None:
            return self._services.settings
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build(self.settings)
        return self._services


pass_app = click.make_pass_decorator(AppContext)


class MailerGroup(click.Group):
    """Turns known errors into a sentence and an exit code: 1 failed, 2 bad usage or config."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except MailerError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            click.echo(f"Error: the database could not be used: {reason}", err=True)
            ctx.exit(1)


@click.group(cls=MailerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsletter-mailer")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Newsletter signup, weekly digests and delivery for a news site."""
    if ctx.obj is None:
        from mailer.core.env import load_dotenv_once

        load_dotenv_once()
        ctx.obj = AppContext()


# Each module adds its commands to `main` (or to a group defined in groups.py) when imported.
COMMAND_MODULES = (
    "core",
    "groups",
    "articles",  # articles ingest|import|stats, sources list (content)
    "digest_content",  # digest build|show|preview, articles related (content)
    "related",  # related evaluate|tune (content)
    "digest_send",  # digest send|status|pause|resume|cancel|retry, outbox send (delivery)
    "readers",  # subscribers commands used by the reader side
    "operators",  # editors, suppressions
    "roster",  # subscribers import|export|count
    "workers",  # worker, workers (scale-out on PostgreSQL)
)


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"mailer.cli.{name}")


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
