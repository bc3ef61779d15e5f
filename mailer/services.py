"""The one composition root: every entry point (web, CLI, scheduler, workers) builds this."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from mailer.content.sources.client import SourceSession
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.http import BoundedSession
from mailer.delivery.transports import TransportOptions, transport_from_dsn
from mailer.delivery.transports.base import Transport
from mailer.startup import check_settings, warn_unknown

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What the use cases need, built once per process."""

    settings: Settings
    db: Database
    http: requests.Session
    clock: Clock = system_clock
    transport_options: TransportOptions = field(default_factory=TransportOptions, repr=False)
    _transport: Transport | None = field(default=None, repr=False)
    _source_http: SourceSession | None = field(default=None, repr=False)

    @property
    def transport(self) -> Transport:
        """Built on first use, so commands that send nothing never open a connection."""
        if self._transport is None:
            self._transport = self.new_transport()
        return self._transport

    @property
    def source_http(self) -> SourceSession:
        """The session sources are fetched with: checked addresses, one deadline a fetch."""
        if self._source_http is None:
            self._source_http = SourceSession(
                read_timeout=self.settings.http_timeout,
                deadline=self.settings.source_deadline,
                allow_hosts=self.settings.source_allow_hosts,
            )
        return self._source_http

    def new_transport(self) -> Transport:
        """A fresh transport for one sending worker (SMTP connections are not shared)."""
        if self._transport is not None and not self._transport.holds_connection:
            return self._transport  # nothing held between calls: every worker may share it
        return transport_from_dsn(self.settings.transport, self.transport_options, self.http)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.http.close()
        if self._source_http is not None:
            self._source_http.close()
        self.db.dispose()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment, warn about MAILER_* names that are no setting, run the checks."""
    settings = Settings.from_env(environ)
    warn_unknown(environ)
    check_settings(settings)
    return settings


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
) -> Services:
    """Wire settings to a database, an HTTP session, a transport and a clock; settings a
    provider or production cannot use raise ConfigError here, before anything runs."""
    if settings is None:
        settings = Settings.from_env()
        warn_unknown()
    options = check_settings(settings)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    return Services(
        settings=settings,
        db=Database(settings.effective_database_url),
        http=BoundedSession(settings.http_timeout),
        clock=clock or system_clock,
        transport_options=options,
        _transport=transport,
    )
