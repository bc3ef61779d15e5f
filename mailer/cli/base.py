"""The root `mailer` group and the context every command shares: Services, built on first use."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from mailer.core.config import Settings
from mailer.core.env import load_dotenv_once
from mailer.core.errors import ConfigError, MailerError
from mailer.services import Services, build, load_settings


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
            self._settings = load_settings()
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
        load_dotenv_once()
        ctx.obj = AppContext()
