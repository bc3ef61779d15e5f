"""The build fetches the week's page views first; a failing provider only gets a mention."""

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from mailer.content.analytics.refresh import last_fetch
from mailer.core.models import Digest, DigestItem, OutboxMessage
from mailer.scheduler.jobs import tick
from tests.fixtures.http import Response
from tests.scheduler.test_jobs import add_week

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
BUILD_TIME = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)  # Sunday 18:00 in London (GMT)


@pytest.fixture
def settings_overrides(plausible):
    return {
        "timezone": "Europe/London",
        "editor_emails": ("desk@example.com",),
        "analytics": plausible.dsn,
        "digest_max_per_section": 5,
    }


@pytest.fixture
def week(db):
    add_week(db, MONDAY, MONDAY)  # stored views: story i has 100 * (i + 1)


def lead_story(db) -> str:
    with db.session() as session:
        digest = session.scalar(select(Digest).where(Digest.period_key == "2026-W48"))
        first = session.scalar(
            select(DigestItem)
            .where(DigestItem.digest_id == digest.id)
            .order_by(DigestItem.position)
            .limit(1)
        )
        return first.url


def notice_text(db) -> str:
    with db.session() as session:
        return session.scalars(select(OutboxMessage.text)).one()


def test_fresh_views_rank_the_week(services, db, week, plausible):
    plausible.pages = [("/20261123/0", 1_000_000, 40)]
    lines = tick(services, BUILD_TIME)
    assert lines[0] == (
        "analytics: Plausible page views for 2026-W48: 1 pages read, 1 articles updated"
    )
    assert any(line.startswith("build: ") and "created" in line for line in lines)
    assert lead_story(db) == "https://news.example.com/20261123/0"
    assert plausible.queries[0]["date_range"] == ["2026-11-23", "2026-11-29"]
    assert "1 articles updated" in notice_text(db)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Response(500, {"error": "boom"}), "Plausible answered HTTP 500: boom"),
        (Response(429, {"error": "slow down"}), "Plausible rate limited us (HTTP 429): slow down"),
        (Response(200, b"<html>login</html>"), "not JSON"),
    ],
)
def test_a_failing_provider_leaves_the_stored_figures_and_says_so(
    services, db, week, plausible, http_server, answer, reason
):
    http_server.expect("POST", plausible.path, answer)
    lines = tick(services, BUILD_TIME)
    assert reason in lines[0] and lines[0].endswith("; ranked on the stored figures")
    assert any(line.startswith("build: ") and "created" in line for line in lines)
    assert lead_story(db) == "https://news.example.com/20261123/5"  # the stored views decide
    assert reason in notice_text(db)
    fetch = last_fetch(db, "2026-W48")
    assert not fetch.ok and reason in fetch.error


def test_a_provider_that_never_answers_does_not_hold_the_build(
    services, db, week, plausible, http_server
):
    slow_dsn = plausible.dsn + "?timeout=0.5"
    services.settings = dataclasses.replace(services.settings, analytics=slow_dsn)
    http_server.expect("POST", plausible.path, Response(200, {"results": []}, delay=3))
    lines = tick(services, BUILD_TIME)
    assert "did not answer within 0.5 s" in lines[0]
    assert lead_story(db) == "https://news.example.com/20261123/5"
