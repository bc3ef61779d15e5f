"""`mailer articles stats fetch [--period W]`: page views from MAILER_ANALYTICS on demand."""

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from tests.fixtures.content import article
from tests.fixtures.http import Response


@pytest.fixture
def settings_overrides(plausible):
    return {"analytics": plausible.dsn}


def test_fetch_this_weeks_views(cli, store_articles, plausible):
    store_articles([article(1, datetime(2026, 11, 24, tzinfo=UTC))])
    plausible.pages = [("/story/1", 420, 15)]
    result = cli("articles", "stats", "fetch")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Plausible page views for 2026-W48: 1 pages read, 1 articles updated.\n"
    )
    listed = json.loads(cli("articles", "list", "--json").output)[0]
    assert (listed["views"], listed["engaged_seconds"]) == (420, 6300)


def test_fetch_a_named_week(cli, plausible):
    result = cli("articles", "stats", "fetch", "--period", "2026-w47")
    assert result.exit_code == 0, result.output
    assert plausible.queries[0]["date_range"] == ["2026-11-16", "2026-11-22"]
    assert "2026-W47: 0 pages read" in result.output


def test_a_bad_week_is_bad_usage(cli, plausible):
    result = cli("articles", "stats", "fetch", "--period", "last week")
    assert result.exit_code == 2 and "not a week such as 2019-W04" in result.output
    assert plausible.queries == []


def test_a_refusal_exits_1_with_the_reason(cli, plausible, http_server):
    http_server.expect("POST", plausible.path, Response(401, {"error": "Invalid API key"}))
    result = cli("articles", "stats", "fetch")
    assert result.exit_code == 1
    assert "Plausible refused the credentials (HTTP 401): Invalid API key" in result.output
    assert "Traceback" not in result.output


def test_without_a_dsn_it_says_what_to_set(cli, services):
    services.settings = dataclasses.replace(services.settings, analytics="")
    result = cli("articles", "stats", "fetch")
    assert result.exit_code == 2 and "MAILER_ANALYTICS is empty" in result.output
