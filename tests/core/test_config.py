import dataclasses
import importlib.util
from pathlib import Path

import pytest

from mailer.core.config import Settings, env_name, render_env_example
from mailer.core.errors import ConfigError
from mailer.services import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_valid(tmp_path):
    settings = Settings.from_env({}, instance_dir=str(tmp_path))
    assert settings.env == "development"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'mailer.db'}"
    assert settings.transport == "file://instance/outbox"


def test_environment_values_are_typed(tmp_path):
    settings = Settings.from_env(
        {
            "MAILER_INSTANCE_DIR": str(tmp_path),
            "MAILER_DIGEST_TOP": "7",
            "MAILER_SEND_RATE": "2.5",
            "MAILER_AUTO_APPROVE": "yes",
            "MAILER_EMBED_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert settings.digest_top == 7
    assert settings.send_rate == 2.5
    assert settings.auto_approve is True
    assert settings.embed_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("MAILER_TRANSPORT", "bogus://x", "MAILER_TRANSPORT"),
        ("MAILER_ENV", "staging", "development, production"),
        ("MAILER_DIGEST_TOP", "five", "whole number"),
        ("MAILER_DIGEST_TOP", "0", "above 0"),
        ("MAILER_TIMEZONE", "Mars/Olympus", "IANA"),
        ("MAILER_BASE_URL", "ftp://x", "http(s) URL"),
        ("MAILER_BUILD_AT", "every sunday", "crontab"),
        ("MAILER_AUTO_APPROVE", "maybe", "true or false"),
        ("MAILER_DATABASE_URL", "mysql://x", "postgresql"),
        ("MAILER_SIGNUP_RATE_LIMITS", "5 per minute", "5/minute"),
    ],
)
def test_bad_values_name_the_variable_and_what_it_accepts(tmp_path, name, value, words):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value, "MAILER_INSTANCE_DIR": str(tmp_path)})
    message = str(caught.value)
    assert name in message
    assert words in message
    assert "\n" not in message


def test_production_requires_a_secret_key_and_a_captcha(tmp_path):
    with pytest.raises(ConfigError, match="MAILER_SECRET_KEY"):
        load_settings({"MAILER_ENV": "production", "MAILER_INSTANCE_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="MAILER_CAPTCHA"):
        load_settings(
            {
                "MAILER_ENV": "production",
                "MAILER_SECRET_KEY": "k3Y-" + "abcdefghijklmnopqrstuvwxyz0123456789",
                "MAILER_BASE_URL": "https://news.example.net.invalid",
                "MAILER_FROM_ADDR": "Digest <digest@news.invalid>",
                "MAILER_TRANSPORT": "smtp://mail.news.invalid:587",
                "MAILER_CAPTCHA": "none",
            }
        )


def test_development_secret_is_generated_once_and_kept(tmp_path):
    first = Settings.from_env({}, instance_dir=str(tmp_path))
    second = Settings.from_env({}, instance_dir=str(tmp_path))
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secrets_are_masked(tmp_path):
    settings = Settings.from_env(
        {
            "MAILER_TRANSPORT": "smtp://user:hunter2@mail.example.com:587",
            "MAILER_DATABASE_URL": "postgresql://app:pw@db/mailer",
        },
        instance_dir=str(tmp_path),
    )
    shown = {name: value for name, value, _ in settings.public_items()}
    assert "hunter2" not in shown["MAILER_TRANSPORT"]
    assert shown["MAILER_TRANSPORT"].startswith("smtp://***@mail.example.com:587")
    assert "pw" not in shown["MAILER_DATABASE_URL"]
    assert shown["MAILER_SECRET_KEY"] == "***"


def test_every_setting_has_help_and_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    for f in dataclasses.fields(Settings):
        assert f.metadata["help"], f"{f.name} has no help line"
        assert f"\n{env_name(f.name)}=" in example, f"{env_name(f.name)} missing from .env.example"
    assert example == render_env_example(), "regenerate: mailer config --example > .env.example"


def load_settings_table():
    """docs/settings_table.py, the script that writes the tables in docs/configuration.md."""
    path = ROOT / "docs" / "settings_table.py"
    spec = importlib.util.spec_from_file_location("settings_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_documented_in_docs_configuration():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for f in dataclasses.fields(Settings):
        assert f"| `{env_name(f.name)}` |" in doc, f"{env_name(f.name)} missing from the docs"
    table = load_settings_table()
    assert table.current_block(doc) == table.render(), (
        "regenerate: .venv/bin/python docs/settings_table.py"
    )
    assert ".env.example" in doc


def test_a_child_process_rebuilds_the_same_settings_from_environ(tmp_path):
    settings = Settings.from_env(
        {},
        instance_dir=str(tmp_path),
        secret_key="k" * 40,
        editor_emails=("a@example.com", "b@example.com"),
        auto_approve=True,
        send_rate=12.5,
    )
    assert Settings.from_env(settings.environ()) == settings
