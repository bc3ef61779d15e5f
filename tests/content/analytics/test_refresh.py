"""A week's page views reach that week's articles through the canonical URL, and the outcome
is kept for the desk, on SQLite and PostgreSQL."""

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import select

from mailer.content.analytics.refresh import last_fetch, refresh_page_stats
from mailer.core.models import AnalyticsFetch, Article
from tests.fixtures.content import article
from tests.fixtures.http import Response

WEEK = "2026-W48"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def figures(db) -> dict[str, tuple[int, int | None]]:
    with db.session() as session:
        return {
            a.url.removeprefix("https://news.example.com"): (
                a.stats.views if a.stats else 0,
                a.stats.engaged_seconds if a.stats else None,
            )
            for a in session.scalars(select(Article))
        }


def refresh(services, dsn, **overrides):
    settings = dataclasses.replace(services.settings, analytics=dsn, **overrides)
    return refresh_page_stats(services.db, services.http, settings, WEEK, services.now())


def test_paths_reach_the_weeks_articles_and_tracking_variants_add_up(
    services, db, store_articles, plausible
):
    store_articles(
        [
            article(1, MONDAY, url="https://news.example.com/2026/11/vote", views=5),
            article(2, MONDAY, url="https://news.example.com/2026/11/bridge"),
            article(3, datetime(2026, 11, 18, tzinfo=UTC), url="https://news.example.com/old"),
        ]
    )
    plausible.pages = [
        ("/2026/11/vote", 300, 20.0),
        ("/2026/11/vote/?utm_source=newsletter&utm_medium=email", 50, 10.0),
        ("/old", 999, 1),
        ("/about", 10, 1),
    ]
    report = refresh(services, plausible.dsn)
    assert report.ok
    assert (report.pages, report.articles_updated, report.unmatched) == (4, 1, 2)
    assert figures(db) == {
        "/2026/11/vote": (350, 6500),
        "/2026/11/bridge": (0, None),
        "/old": (0, None),  # last week's article keeps what it had
    }
    assert str(report) == (
        "Plausible page views for 2026-W48: 4 pages read, 1 articles updated, "
        "2 pages matched no article of the week"
    )
    row = last_fetch(db, WEEK)
    assert (row.ok, row.provider, row.pages, row.articles_updated) == (True, "plausible", 4, 1)


def test_a_path_on_two_sites_matches_only_where_the_site_is_known(
    services, db, store_articles, ga4
):
    store_articles(
        [
            article(1, MONDAY, url="https://news.example.com/x"),
            article(2, MONDAY, url="https://sport.example.org/x"),
        ]
    )
    ga4.pages = [("/x", 40, 100)]
    assert refresh(services, ga4.dsn).unmatched == 1  # which /x? neither
    report = refresh(services, ga4.dsn, site_hosts=("www.news.example.com",))
    assert report.articles_updated == 1
    assert figures(db)["/x"] == (40, 100)


def test_absolute_urls_match_across_scheme_www_and_tracking_and_weird_ones_match_nothing(
    services, db, store_articles, matomo
):
    store_articles([article(1, MONDAY, url="https://news.example.com/a")])
    matomo.pages = [
        ("http://www.news.example.com/a?utm_medium=email", 3, 30),
        ("https://news.example.com/a#comments", 4, 40),
        ("https://NEWS.example.com/a", 5, 50),
        ("javascript:alert(1)", 100, 1),
        ("http://news.example.com:99999/a", 100, 1),
        ("//evil.example/a", 100, 1),
        ("https://[::1/a", 100, 1),
        ("ftp://news.example.com/a", 100, 1),
    ]
    report = refresh(services, matomo.dsn)
    assert (report.articles_updated, report.unmatched) == (1, 5)
    assert figures(db)["/a"] == (12, 120)


def test_huge_sums_stay_within_the_column(services, db, store_articles, plausible):
    store_articles([article(1, MONDAY, url="https://news.example.com/a")])
    plausible.pages = [("/a", 1_000_000_000, 1000), ("/a?fbclid=1", 1_000_000_000, 1000)]
    plausible.pages.append(("/a?gclid=2", 900_000_000, 1000))
    assert refresh(services, plausible.dsn).ok
    # the views are capped at the column's top; a billion views times 1000 s is no real figure
    assert figures(db)["/a"] == (2**31 - 1, None)


def test_a_failing_provider_changes_no_figures_and_the_desk_is_told(
    services, db, store_articles, plausible, http_server
):
    store_articles([article(1, MONDAY, url="https://news.example.com/a", views=77)])
    http_server.expect("POST", plausible.path, Response(500, {"error": "database is down"}))
    report = refresh(services, plausible.dsn)
    assert not report.ok
    assert str(report) == (
        "Plausible page views for 2026-W48 failed: Plausible answered HTTP 500: database is down"
    )
    assert figures(db)["/a"] == (77, None)
    row = last_fetch(db)
    assert (row.ok, row.error) == (False, "Plausible answered HTTP 500: database is down")
    plausible.pages = [("/a", 80, 1)]
    assert refresh(services, plausible.dsn).ok  # the next fetch replaces the week's outcome
    with db.session() as session:
        rows = session.scalars(select(AnalyticsFetch)).all()
    assert [(r.period_key, r.ok, r.error) for r in rows] == [(WEEK, True, None)]


def test_nothing_happens_without_a_dsn(services, db):
    assert refresh(services, "") is None
    assert last_fetch(db) is None
