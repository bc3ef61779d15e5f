"""Real parts for every test: a database file (and PostgreSQL on CI), SMTP, HTTP, Chromium."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from app import create_app
from mailer.cli import AppContext, main
from mailer.core.config import Settings
from mailer.services import build

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.smtp",
    "tests.fixtures.http",
    "tests.fixtures.providers",
    "tests.fixtures.browser",
    "tests.fixtures.captcha",
    "tests.fixtures.content",
    "tests.fixtures.mailing",
    "tests.fixtures.webhooks",
    "tests.fixtures.readers",
    "tests.fixtures.editors",
    "tests.fixtures.analytics",
]

# A Wednesday in the newsroom's time zone, so "this week" is unambiguous.
FIXED_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW


def make_settings(tmp_path, database_url: str, **overrides) -> Settings:
    """Settings for a test: nothing read from the developer's environment."""
    values = {
        "instance_dir": str(tmp_path / "instance"),
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "transport": f"file://{tmp_path / 'outbox'}",
        "base_url": "http://localhost",
        # The fake feeds and sites run on this machine; the address check stays on for the rest.
        "source_allow_hosts": ("127.0.0.1",),
        # Cheap proof-of-work and password hashing keep the suite fast; one test each checks
        # the real defaults (test_captcha_web, test_accounts).
        "altcha_max_number": 5_000,
        "editor_password_cost": 10,
        # SpamAssassin takes seconds a message; the pre-send check's own tests turn it on
        # (tests/delivery/test_precheck.py) and every other send skips it.
        "precheck_spamassassin": "off",
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


@pytest.fixture
def settings_overrides() -> dict:
    """Override in a test module to change settings for every fixture built on them."""
    return {}


@pytest.fixture
def settings(tmp_path, migrated_database_url, settings_overrides) -> Settings:
    return make_settings(tmp_path, migrated_database_url, **settings_overrides)


@pytest.fixture
def services(settings, now):
    svc = build(settings, clock=lambda: now)
    yield svc
    svc.close()


@pytest.fixture
def db(services):
    return services.db


@pytest.fixture
def app(services):
    flask_app = create_app(services=services)
    flask_app.config.update(TESTING=True)
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(services):
    """Run `mailer ...` against this test's services: cli("db", "current")."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(main, list(args), obj=AppContext(services), input=input, env=env)

    return invoke
