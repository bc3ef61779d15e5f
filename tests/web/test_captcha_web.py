"""The challenge endpoint, the widget files, the macro, and the real widget in Chromium."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from flask import render_template_string

from app import create_app
from mailer.readers.captcha import CaptchaResult, verify
from mailer.services import build
from tests.conftest import make_settings
from tests.fixtures.captcha import solve_altcha

MACRO = (
    '{% from "web/_captcha.html" import captcha_widget %}'
    "{{ captcha_widget(captcha_provider, captcha_site_key) }}"
)


@pytest.fixture
def now() -> datetime:
    """The real time: the widget in the browser checks the challenge's expiry on its own clock."""
    return datetime.now(UTC)


def test_a_challenge_is_fresh_signed_and_never_cached(client, services):
    first = client.get("/altcha/challenge")
    second = client.get("/altcha/challenge")
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert {"algorithm", "challenge", "salt", "signature", "maxNumber"} <= set(body)
    assert body["algorithm"] == "SHA-256" and "expires=" in body["salt"]
    assert body["salt"] != second.get_json()["salt"]
    result = verify(
        services.settings, services.http, services.db, solve_altcha(body), None, services.now()
    )
    assert result == CaptchaResult(True, "altcha", "ok")


def test_the_challenge_endpoint_is_rate_limited(client):
    statuses = [client.get("/altcha/challenge").status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    refused = client.get("/altcha/challenge")
    assert refused.status_code == 429 and b"Too many requests" in refused.data


def test_embedding_origins_may_fetch_a_challenge_and_others_may_not(app, services):
    settings = dataclasses.replace(services.settings, embed_origins=("https://news.example.com",))
    app.extensions["mailer"] = dataclasses.replace(services, settings=settings)
    client = app.test_client()
    allowed = client.get("/altcha/challenge", headers={"Origin": "https://news.example.com"})
    other = client.get("/altcha/challenge", headers={"Origin": "https://evil.example.net"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://news.example.com"
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    ("path", "mimetype", "marker"),
    [
        ("/static/vendor/altcha.min.js", "text/javascript", b"altcha-widget"),
        ("/static/vendor/altcha.css", "text/css", b".altcha"),
        ("/static/vendor/altcha-sha-worker.js", "text/javascript", b"onmessage"),
        ("/static/js/altcha-setup.js", "text/javascript", b"/static/vendor/altcha.min.js"),
    ],
)
def test_the_widget_is_served_from_our_own_server(client, path, mimetype, marker):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert marker in response.data
    response.close()


def test_an_unknown_vendor_file_is_a_404(client):
    assert client.get("/static/vendor/../../pyproject.toml").status_code == 404
    assert client.get("/static/vendor/jquery.js").status_code == 404


def test_a_missing_npm_install_is_a_clear_503(app, client, tmp_path):
    app.config["ALTCHA_DIST"] = str(tmp_path / "nowhere")
    response = client.get("/static/vendor/altcha.min.js")
    assert response.status_code == 503
    assert b"npm install" in response.data


def test_other_providers_have_no_challenge_endpoint(tmp_path, migrated_database_url):
    settings = make_settings(tmp_path, migrated_database_url, captcha="turnstile")
    svc = build(settings)
    try:
        response = create_app(services=svc).test_client().get("/altcha/challenge")
        assert response.status_code == 404 and b"does not use ALTCHA" in response.data
    finally:
        svc.close()


def render_macro(tmp_path, **overrides) -> str:
    """Rendering touches no database, so this runs once rather than per backend."""
    svc = build(make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", **overrides))
    try:
        flask_app = create_app(services=svc)
        with flask_app.test_request_context("/join"):
            return render_template_string(MACRO)
    finally:
        svc.close()


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            "altcha",
            [
                'src="/static/js/altcha-setup.js"',
                'href="/static/vendor/altcha.css"',
                '<altcha-widget name="altcha" challenge="/altcha/challenge"',
            ],
        ),
        (
            "recaptcha-v2",
            [
                'src="https://www.google.com/recaptcha/api.js"',
                '<div class="g-recaptcha" data-sitekey="site-key-1"',
            ],
        ),
        (
            "recaptcha-v3",
            [
                'src="https://www.google.com/recaptcha/api.js?render=site-key-1"',
                'src="/static/js/recaptcha-v3.js"',
                'name="g-recaptcha-response"',
                'data-action="subscribe"',
            ],
        ),
        (
            "hcaptcha",
            [
                'src="https://js.hcaptcha.com/1/api.js"',
                '<div class="h-captcha" data-sitekey="site-key-1"',
            ],
        ),
        (
            "turnstile",
            [
                'src="https://challenges.cloudflare.com/turnstile/v0/api.js"',
                '<div class="cf-turnstile" data-sitekey="site-key-1" data-action="subscribe"',
            ],
        ),
    ],
)
def test_the_macro_renders_each_providers_widget_and_the_note(tmp_path, provider, expected):
    html = render_macro(tmp_path, captcha=provider, captcha_site_key="site-key-1")
    for fragment in expected:
        assert fragment in html
    assert "This form is protected by a CAPTCHA" in html


def test_the_macro_shows_nothing_when_the_captcha_is_off(tmp_path):
    html = render_macro(tmp_path, captcha="none")
    assert "<script" not in html and "CAPTCHA" not in html


def test_production_refuses_requests_with_the_testing_flag_on(tmp_path, migrated_database_url):
    settings = make_settings(
        tmp_path,
        migrated_database_url,
        env="production",
        base_url="https://news.example.com",
        from_addr="Digest <digest@dailyexample.test>",
        transport="smtp://mailer:pw@mail.dailyexample.test:587",
    )
    svc = build(settings)
    try:
        flask_app = create_app(services=svc)
        assert flask_app.test_client().get("/healthz").status_code == 200
        flask_app.config.update(TESTING=True)
        refused = flask_app.test_client().get("/healthz")
        assert refused.status_code == 503 and b"misconfigured" in refused.data
    finally:
        svc.close()


@pytest.mark.browser
def test_the_real_widget_solves_a_challenge_in_chromium(app, live_server, page, services):
    """A page at our origin, with our CSP, made of the macro only: the widget must do its work."""
    with app.test_request_context("/"):
        widget = render_template_string(MACRO)
    html = f'<!doctype html><html lang="en"><body><form method="post">{widget}</form></body></html>'
    csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    url = live_server.url + "/widget-under-test"
    page.route(
        url,
        lambda route: route.fulfill(
            status=200,
            body=html,
            headers={"Content-Type": "text/html", "Content-Security-Policy": csp},
        ),
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(url)
    page.get_by_role("checkbox").focus()  # auto="onfocus": a keyboard user starts it too
    field = page.locator('input[name="altcha"]')
    page.wait_for_function(
        "() => document.querySelector('input[name=altcha]')?.value.length > 20", timeout=20_000
    )
    payload = field.input_value()
    assert errors == []
    result = verify(services.settings, services.http, services.db, payload, None, services.now())
    assert result == CaptchaResult(True, "altcha", "ok")
    again = verify(services.settings, services.http, services.db, payload, None, services.now())
    assert again.detail == "replayed"


@pytest.mark.parametrize("provider", ["recaptcha-v2", "recaptcha-v3", "hcaptcha", "turnstile"])
def test_captcha_csp_allows_every_script_the_macro_loads(tmp_path, provider):
    import re

    from mailer.web.captcha import captcha_csp

    html = render_macro(tmp_path, captcha=provider, captcha_site_key="k")
    allowed = captcha_csp(provider)["script-src"].split()
    third_party = [src for src in re.findall(r'src="([^"]+)"', html) if src.startswith("https:")]
    assert third_party
    for src in third_party:
        host_ok = any(
            src.startswith(a) or (a.startswith("https://*.") and a[10:] in src) for a in allowed
        )
        assert host_ok, f"{src} is not allowed by {allowed}"


def test_the_challenge_cost_is_a_setting_with_a_strong_default(tmp_path, migrated_database_url):
    """Hardening finding 4: the cost comes from MAILER_ALTCHA_MAX_NUMBER, default 250,000."""
    from mailer.core.config import Settings

    assert Settings.from_env({}).altcha_max_number >= 250_000
    for cost in (12_345, 250_000):
        settings = make_settings(tmp_path, migrated_database_url, altcha_max_number=cost)
        svc = build(settings)
        try:
            body = create_app(services=svc).test_client().get("/altcha/challenge").get_json()
        finally:
            svc.close()
        assert body["maxNumber"] == cost
