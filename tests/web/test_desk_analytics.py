"""The desk shows how the week's page-view fetch went, on the digest page and the dashboard."""

import dataclasses

import pytest

from mailer.content.analytics.refresh import refresh_page_stats
from mailer.content.calendar import period_key
from mailer.editions import digests
from tests.fixtures.editors import signed_in
from tests.fixtures.http import Response


@pytest.fixture
def settings_overrides(plausible):
    return {"analytics": plausible.dsn}


@pytest.fixture
def draft(db, settings, now):
    from mailer.content.demo import load_demo

    load_demo(db, now, settings.zone)
    return digests.build_digest(db, settings, now).digest_id


def fetch(services):
    period = period_key(services.now(), services.settings.zone)
    return refresh_page_stats(services.db, services.http, services.settings, period, services.now())


def test_a_good_fetch_is_one_quiet_line(client, services, accounts, draft, plausible):
    plausible.pages = [("/nothing-we-wrote", 3, 1)]
    assert fetch(services).ok
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert "Page views:</strong> Plausible page views for 2026-W48: 1 pages read" in html
    assert "ranked on the figures already stored" not in html
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert 'id="page-views"' in dashboard and "1 pages read" in dashboard


def test_a_failed_fetch_is_a_notice_with_the_reason(
    client,
    services,
    accounts,
    draft,
    plausible,
    http_server,
):
    http_server.expect("POST", plausible.path, Response(401, {"error": "<b>Invalid</b> key"}))
    assert not fetch(services).ok
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert 'class="notice" role="status"' in html
    assert "refused the credentials (HTTP 401): &lt;b&gt;Invalid&lt;/b&gt; key" in html
    assert "The stories were ranked on the figures already stored." in html
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "refused the credentials" in dashboard


def test_without_analytics_the_desk_says_nothing_of_it(client, services, accounts, draft):
    services.settings = dataclasses.replace(services.settings, analytics="")
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert "Page views:" not in html
    assert 'id="page-views"' not in client.get("/admin/").get_data(as_text=True)
