"""MAILER_ANALYTICS: each provider's DSN form, and one clear sentence for a bad one."""

import pytest

from mailer.core.analytics_dsn import parse_analytics_dsn
from mailer.core.config import Settings
from mailer.core.errors import ConfigError


def test_plausible_defaults_to_its_cloud_over_https():
    dsn = parse_analytics_dsn("plausible://k%2Fey@default/example.org")
    assert (dsn.base_url, dsn.secret, dsn.site) == ("https://plausible.io", "k/ey", "example.org")
    assert (dsn.timeout, dsn.pages) == (60.0, 20)


def test_a_self_hosted_plausible_keeps_its_path_and_port():
    dsn = parse_analytics_dsn("plausible://KEY@stats.example.org:8443/p/example.org?pages=5")
    assert dsn.base_url == "https://stats.example.org:8443/p"
    assert dsn.pages == 5


def test_matomo_under_a_path_and_plain_http_only_on_loopback():
    dsn = parse_analytics_dsn("matomo://TOKEN@matomo.example.org/analytics/3?timeout=20")
    assert (dsn.base_url, dsn.site, dsn.timeout) == (
        "https://matomo.example.org/analytics",
        "3",
        20,
    )
    assert parse_analytics_dsn("matomo://T@127.0.0.1:8080/3").base_url == "http://127.0.0.1:8080"


def test_ga4_takes_the_key_file_and_the_property():
    dsn = parse_analytics_dsn(
        "ga4:///etc/mailer/sa.json?property=123456&site=https://news.example.com/"
    )
    assert dsn.base_url == "https://analyticsdata.googleapis.com"
    assert (dsn.key_file, dsn.site, dsn.site_url) == (
        "/etc/mailer/sa.json",
        "123456",
        "https://news.example.com",
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("plausible.io/example.org", "no scheme"),
        ("umami://k@x/1", "unknown provider 'umami'"),
        ("plausible://plausible.io/example.org", "API key before the @"),
        ("plausible://KEY@plausible.io", "site_id (the domain)"),
        ("matomo://T@matomo.example.org/main", "site id 'main' is not a number"),
        ("matomo://T@/3", "the host of your Matomo"),
        ("matomo://T@m.example.org:http/3", "port is not a number"),
        ("ga4:///etc/sa.json", "?property="),
        ("ga4:///etc/sa.json?property=properties/1", "?property="),
        ("ga4://relative.json?property=1", "absolute path"),
        ("ga4:///etc/sa.json?property=1&dimension=pageTitle", "dimension= must be one of"),
        ("plausible://K@default/e.org?timeout=forever", "timeout='forever' is not a number"),
        ("plausible://K@default/e.org?timeout=0", "out of range"),
        ("plausible://K@default/e.org?pages=100000", "out of range"),
        ("plausible://K@default/e.org?site=ftp://x", "site= must be an http(s) URL"),
        ("plausible://K@default/e.org?limit=5", "unknown option 'limit'"),
    ],
)
def test_a_bad_dsn_stops_start_up_with_one_sentence(tmp_path, value, words):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"MAILER_ANALYTICS": value, "MAILER_INSTANCE_DIR": str(tmp_path)})
    message = str(caught.value)
    assert message.startswith("MAILER_ANALYTICS is ")
    assert words in message and "plausible://KEY@plausible.io/example.org" in message
    assert "\n" not in message


def test_the_key_is_masked_in_mailer_config(tmp_path):
    settings = Settings.from_env(
        {"MAILER_ANALYTICS": "plausible://s3cret-key@plausible.io/example.org"},
        instance_dir=str(tmp_path),
    )
    shown = {name: value for name, value, _ in settings.public_items()}
    assert shown["MAILER_ANALYTICS"] == "plausible://***@plausible.io/example.org"
