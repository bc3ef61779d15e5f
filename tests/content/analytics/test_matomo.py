"""Matomo's Reporting API against a local stand-in: the token in the body, flat rows, paging."""

import pytest

from mailer.content.analytics.base import AnalyticsError, PageStat
from tests.content.analytics.helpers import fetch, provider
from tests.fixtures.analytics import MATOMO_TOKEN
from tests.fixtures.http import Response


def test_views_and_time_spent_per_url_with_the_token_kept_out_of_the_url(matomo):
    matomo.pages = [("https://news.example.com/story/1", 120, 3600)]
    matomo.others_row = True
    assert fetch(provider(matomo.dsn)) == [PageStat("https://news.example.com/story/1", 120, 3600)]
    (call,) = matomo.forms
    assert call["query"] == {}
    assert call["form"]["token_auth"] == MATOMO_TOKEN
    assert call["form"]["date"] == "2026-11-23,2026-11-25"
    assert call["form"]["idSite"] == "7" and call["form"]["filter_limit"] == "1000"


def test_pages_by_filter_offset_until_a_short_page(matomo):
    matomo.pages = [(f"https://news.example.com/p/{n}", n, n) for n in range(2000)]
    stats = fetch(provider(matomo.dsn))
    assert len(stats) == 2000
    assert [c["form"]["filter_offset"] for c in matomo.forms] == ["0", "1000", "2000"]


def test_a_matomo_under_a_path_is_called_there(http_server, matomo):
    http_server.route("POST", "/analytics/index.php", matomo.handle)
    dsn = matomo.dsn.replace("/7", "/analytics/7")
    matomo.pages = [("https://news.example.com/a", 1, 1)]
    assert len(fetch(provider(dsn))) == 1
    assert http_server.requests[-1].path == "/analytics/index.php"


def test_a_wrong_token_is_refused(matomo):
    bad = matomo.dsn.replace(MATOMO_TOKEN, "nope")
    with pytest.raises(AnalyticsError, match=r"refused the credentials \(HTTP 401\): Unable to"):
        fetch(provider(bad))


def test_an_error_answered_with_200_is_an_error(matomo):
    other_site = matomo.dsn.replace("/7", "/8")
    with pytest.raises(AnalyticsError, match="Matomo refused the credentials: You can't access"):
        fetch(provider(other_site))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Response(500, "<b>Fatal error</b>"), r"Matomo answered HTTP 500$"),
        (Response(200, {"value": 3}), "not a list of page rows"),
        (Response(200, b"<?xml version='1.0'?><result/>"), "not JSON"),
        (
            Response(503, {"result": "error", "message": "Maintenance\x1b[31m mode"}),
            r"HTTP 503: Maintenance [^\x1b]+ mode$",  # no terminal escape gets through
        ),
    ],
)
def test_failures_are_one_sentence(matomo, http_server, answer, expected):
    http_server.expect("POST", matomo.path, answer)
    with pytest.raises(AnalyticsError, match=expected):
        fetch(provider(matomo.dsn))


def test_hostile_rows_are_left_out_and_counted(matomo, http_server):
    rows = [
        {"url": "https://news.example.com/ok", "nb_hits": "1,5", "sum_time_spent": 3},
        {"url": "https://news.example.com/ok2", "nb_hits": "15", "sum_time_spent": "x"},
        {"url": None, "nb_hits": 3},
        {"url": ["https://news.example.com/list"], "nb_hits": 3},
        {"url": "https://news.example.com/big", "nb_hits": 10**40},
        {"url": "https://news.example.com/float", "nb_hits": 2.6, "sum_time_spent": 1.4},
        {"label": "-1", "nb_hits": 10},
    ]
    http_server.expect("POST", matomo.path, Response(200, rows))
    source = provider(matomo.dsn)
    assert fetch(source) == [
        PageStat("https://news.example.com/ok2", 15, None),
        PageStat("https://news.example.com/float", 3, 1),
    ]
    assert source.rejected == 4
