"""Start-up checks: production refuses each unsafe setting with one sentence naming it."""

import logging

import pytest

from app import create_app
from mailer.core.config import Settings
from mailer.core.errors import ConfigError
from mailer.services import build, load_settings
from mailer.startup import production_problems
from tests.cli.test_core import clean_env, run_mailer
from tests.conftest import TEST_SECRET


def production_env(tmp_path, **changes: str) -> dict[str, str]:
    """A production configuration with nothing unsafe in it, then the given changes."""
    env = {
        "MAILER_ENV": "production",
        "MAILER_INSTANCE_DIR": str(tmp_path / "instance"),
        "MAILER_SECRET_KEY": TEST_SECRET,
        "MAILER_BASE_URL": "https://news.example.com",
        "MAILER_FROM_ADDR": "The Weekly Digest <digest@dailyexample.test>",
        "MAILER_TRANSPORT": "smtp://mailer:pw@mail.dailyexample.test:587",
        "MAILER_CAPTCHA": "altcha",
    }
    env.update(changes)
    return env


def test_a_safe_production_configuration_starts(tmp_path):
    settings = load_settings(production_env(tmp_path))
    assert settings.is_production
    assert production_problems(settings) == []


UNSAFE = [
    ("MAILER_BASE_URL", "http://news.example.com"),
    ("MAILER_BASE_URL", "https://127.0.0.1:5000"),
    ("MAILER_BASE_URL", "https://localhost"),
    ("MAILER_FROM_ADDR", Settings.from_addr),  # the default
    ("MAILER_FROM_ADDR", "News <news@example.org>"),
    ("MAILER_TRANSPORT", "file://instance/outbox"),
    ("MAILER_TRANSPORT", "console://"),
    ("MAILER_SECRET_KEY", "x" * 64),
    ("MAILER_SECRET_KEY", "0123456789abcdef"),
    ("MAILER_CAPTCHA", "none"),
    ("MAILER_CAPTCHA", "hcaptcha"),  # no site key, no secret
    ("MAILER_CAPTCHA_VERIFY_URL", "http://captcha.dailyexample.test/siteverify"),
    ("MAILER_SES_CERT_HOSTS", "sns.*.amazonaws.com,127.0.0.1"),
    ("MAILER_SES_CERT_HOSTS", "*.com"),
    ("MAILER_EMBED_ORIGINS", "*"),
    ("MAILER_EMBED_ORIGINS", "https://partner.example,*"),
    ("MAILER_TRANSPORT", "smtp://mailer:pw@mail.dailyexample.test:25?tls=none"),
]


@pytest.mark.parametrize(("name", "value"), UNSAFE)
def test_production_refuses_each_unsafe_setting_at_start_up(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings(production_env(tmp_path, **{name: value}))
    message = str(caught.value)
    assert message.startswith(name), message
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")


@pytest.mark.parametrize(("name", "value"), [u for u in UNSAFE if "tls=none" not in u[1]])
def test_development_accepts_what_production_refuses(tmp_path, name, value):
    env = production_env(tmp_path, **{name: value}, MAILER_ENV="development")
    assert load_settings(env).env == "development"


def test_plain_smtp_to_a_remote_host_is_refused_in_every_mode(tmp_path):
    """Before, only the first send found out; now start-up does, in development too."""
    env = production_env(
        tmp_path,
        MAILER_ENV="development",
        MAILER_TRANSPORT="smtp://mail.dailyexample.test:25?tls=none",
    )
    with pytest.raises(ConfigError, match="MAILER_TRANSPORT cannot be used: tls=none"):
        load_settings(env)


def test_a_captcha_with_its_keys_and_an_https_verify_url_is_accepted(tmp_path):
    env = production_env(
        tmp_path,
        MAILER_CAPTCHA="turnstile",
        MAILER_CAPTCHA_SITE_KEY="0x4AAAAAAA",
        MAILER_CAPTCHA_SECRET="0x4AAAAAAA-secret",
        MAILER_CAPTCHA_VERIFY_URL="https://captcha.dailyexample.test/siteverify",
        MAILER_SES_CERT_HOSTS="sns.us-east-1.amazonaws.com,sns.*.amazonaws.com.cn",
        MAILER_EMBED_ORIGINS="https://partner.dailyexample.test",
    )
    assert load_settings(env).captcha == "turnstile"


def test_the_cli_exits_2_with_the_sentence(tmp_path):
    env = clean_env(tmp_path, **production_env(tmp_path, MAILER_BASE_URL="http://news.test"))
    result = run_mailer("config", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: MAILER_BASE_URL is 'http://news.test'; production")
    assert "Traceback" not in result.stderr


def test_the_web_app_refuses_to_start(tmp_path):
    settings = Settings.from_env(production_env(tmp_path, MAILER_EMBED_ORIGINS="*"))
    with pytest.raises(ConfigError, match="MAILER_EMBED_ORIGINS contains"):
        create_app(settings)


def test_services_check_settings_handed_in(tmp_path):
    settings = Settings.from_env(production_env(tmp_path, MAILER_TRANSPORT="console://"))
    with pytest.raises(ConfigError, match="MAILER_TRANSPORT is console://"):
        build(settings)


def test_sunsetting_without_per_reader_clicks_is_refused(tmp_path):
    settings = Settings.from_env({"MAILER_INSTANCE_DIR": str(tmp_path), "MAILER_SUNSET": "true"})
    with pytest.raises(ConfigError, match="MAILER_SUNSET=true needs MAILER_CLICK_TRACKING"):
        build(settings)


# --- unknown variables ------------------------------------------------------------------------


def test_an_unknown_variable_is_logged_with_the_nearest_real_name(tmp_path, caplog):
    env = {"MAILER_INSTANCE_DIR": str(tmp_path), "MAILER_FROM": "News <news@dailyexample.test>"}
    with caplog.at_level(logging.WARNING, logger="mailer.startup"):
        settings = load_settings(env)
    assert settings.from_addr == Settings.from_addr  # ignored, as before: but now said
    assert [r.getMessage() for r in caplog.records] == [
        "MAILER_FROM is not a setting; did you mean MAILER_FROM_ADDR?"
    ]


def test_mailer_config_shows_an_unknown_variable(tmp_path):
    env = clean_env(tmp_path, MAILER_TRANSPROT="smtp://mail.dailyexample.test", MAILER_XYZZY="1")
    result = run_mailer("config", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MAILER_TRANSPROT is not a setting; did you mean MAILER_TRANSPORT?" in result.stdout
    assert "MAILER_XYZZY is not a setting; it is ignored." in result.stdout
    assert "mail.dailyexample.test" not in result.stdout  # an ignored value may be a secret
    assert "did you mean MAILER_TRANSPORT?" in result.stderr  # the start-up warning


def test_an_unreadable_dkim_key_stops_start_up_not_the_first_send(tmp_path):
    env = {
        "MAILER_INSTANCE_DIR": str(tmp_path),
        "MAILER_DKIM_DOMAIN": "dailyexample.test",
        "MAILER_DKIM_PRIVATE_KEY": str(tmp_path / "missing.pem"),
    }
    with pytest.raises(ConfigError, match=r"^The DKIM settings \(MAILER_DKIM_\*\) cannot be used"):
        load_settings(env)
