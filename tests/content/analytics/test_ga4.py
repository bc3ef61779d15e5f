"""GA4's Data API against a local stand-in that checks the service account's signed JWT."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.content.analytics.base import AnalyticsError, PageStat
from tests.content.analytics.helpers import fetch, provider
from tests.fixtures.analytics import GA4_ACCESS_TOKEN
from tests.fixtures.http import Response


def test_a_signed_jwt_buys_the_token_that_reads_the_report(ga4, http_server):
    ga4.pages = [("/story/1", 120, 3600.7), ("/story/2", 4, 0)]
    assert fetch(provider(ga4.dsn)) == [PageStat("/story/1", 120, 3601), PageStat("/story/2", 4, 0)]
    (claims,) = ga4.assertions
    assert claims["scope"] == "https://www.googleapis.com/auth/analytics.readonly"
    (report,) = ga4.reports
    assert report["dateRanges"] == [{"startDate": "2026-11-23", "endDate": "2026-11-25"}]
    assert report["dimensions"] == [{"name": "pagePath"}]
    calls = http_server.requests_to(ga4.path)
    assert calls[0].headers["Authorization"] == f"Bearer {GA4_ACCESS_TOKEN}"


def test_pages_by_offset_up_to_row_count(ga4):
    ga4.pages = [(f"/p/{n}", n, n) for n in range(2001)]
    assert len(fetch(provider(ga4.dsn))) == 2001
    assert [r["offset"] for r in ga4.reports] == [0, 1000, 2000]


def test_an_empty_report_has_no_rows_at_all(ga4):
    assert fetch(provider(ga4.dsn)) == []


def test_full_page_urls_get_their_scheme(ga4):
    ga4.pages = [("news.example.com/story/1", 3, 1)]
    dsn = ga4.dsn + "&dimension=fullPageUrl"
    assert fetch(provider(dsn)) == [PageStat("https://news.example.com/story/1", 3, 1)]


def test_a_key_google_does_not_know_is_refused(ga4, http_server, tmp_path):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "other.json").write_text(json.dumps({**ga4.account, "private_key": pem.decode()}))
    with pytest.raises(AnalyticsError, match="HTTP 400: Invalid JWT Signature"):
        fetch(provider(ga4.dsn.replace("service-account.json", "other.json")))
    assert http_server.requests_to(ga4.path) == []


def test_a_property_the_account_may_not_read_says_so(ga4, http_server):
    denied = {
        "error": {
            "code": 403,
            "message": "User does not have sufficient permissions for this property.",
            "status": "PERMISSION_DENIED",
        }
    }
    http_server.expect("POST", ga4.path, Response(403, denied))
    with pytest.raises(AnalyticsError, match=r"refused the credentials \(HTTP 403\): User does"):
        fetch(provider(ga4.dsn))


def test_quota_exhausted_is_a_rate_limit(ga4, http_server):
    quota = {
        "error": {
            "code": 429,
            "message": "Exhausted property tokens per day.",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    http_server.expect("POST", ga4.path, Response(429, quota))
    with pytest.raises(AnalyticsError, match=r"rate limited us .*Exhausted property tokens"):
        fetch(provider(ga4.dsn))


def test_a_token_answer_without_a_token_is_an_error(ga4, http_server):
    http_server.expect("POST", ga4.token_path, Response(200, {"token_type": "Bearer"}))
    with pytest.raises(AnalyticsError, match="gave no access token"):
        fetch(provider(ga4.dsn))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda path, account: path.unlink(), "cannot read the service-account file"),
        (lambda path, account: path.write_text("{not json"), "not a service-account JSON"),
        (lambda path, account: path.write_text("[]"), "not a service-account JSON"),
        (
            lambda path, account: path.write_text(json.dumps({**account, "private_key": "x"})),
            "not a PEM RSA key",
        ),
        (
            lambda path, account: path.write_text(json.dumps({**account, "client_email": 5})),
            "has no client_email",
        ),
        (
            lambda path, account: path.write_text(
                json.dumps({**account, "token_uri": "http://tokens.example.com/token"})
            ),
            "token_uri must be an https URL",
        ),
    ],
)
def test_a_broken_key_file_is_one_sentence(ga4, tmp_path, mutate, expected):
    mutate(tmp_path / "service-account.json", ga4.account)
    with pytest.raises(AnalyticsError, match=expected):
        fetch(provider(ga4.dsn))
    assert ga4.reports == []


def test_hostile_rows_are_left_out(ga4, http_server):
    rows = [
        {"dimensionValues": [{"value": "/ok"}], "metricValues": [{"value": "5"}, {"value": "2.5"}]},
        {"dimensionValues": [{"value": "/bad"}], "metricValues": [{"value": "five"}]},
        {"dimensionValues": [{}], "metricValues": [{"value": "5"}]},
        {"dimensionValues": "x", "metricValues": []},
        {"dimensionValues": [{"value": "/no-time"}], "metricValues": [{"value": "1e3"}]},
    ]
    http_server.expect("POST", ga4.path, Response(200, {"rows": rows, "rowCount": "five"}))
    source = provider(ga4.dsn)
    assert fetch(source) == [PageStat("/ok", 5, 2), PageStat("/no-time", 1000, None)]
    assert source.rejected == 3
