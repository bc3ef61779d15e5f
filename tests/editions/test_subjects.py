"""MAILER_DIGEST_SUBJECT: checked at start-up, filled at build time, cut as a phone shows it."""

from html import escape

import pytest

from mailer.core.config import Settings
from mailer.core.errors import ConfigError
from mailer.editions import digests
from mailer.editions.subjects import (
    PHONE_CHARS,
    SUBJECT_MAX,
    default_subject,
    subject_preview,
)
from tests.fixtures.editors import signed_in

BASE = {"instance_dir": "/tmp/mailer-subject-test", "secret_key": "s" * 40}


def settings_with(subject: str) -> Settings:
    return Settings.from_env({"MAILER_DIGEST_SUBJECT": subject}, **BASE)


def test_the_default_subject_is_the_lead_headline_alone():
    settings = Settings.from_env({}, **BASE)
    headline = "Council delays budget vote as library closures split the chamber"
    assert default_subject(headline, "2026-W48", settings) == headline
    assert settings.list_name not in default_subject(headline, "2026-W48", settings)


def test_the_format_names_the_list_the_site_and_the_weeks_first_day():
    settings = settings_with("{list_name}, {date}: {headline} ({site_name})")
    subject = default_subject("Rates rise", "2026-W48", settings)
    assert subject == "The Weekly Digest, 23 November: Rates rise (The Daily Example)"


def test_a_long_subject_is_cut_at_a_word_with_an_ellipsis():
    headline = "Riverton's draft budget proposes closing two branch libraries to cover a deficit"
    subject = default_subject(headline, "2026-W48", Settings.from_env({}, **BASE))
    assert len(subject) <= SUBJECT_MAX and subject.endswith("…")
    assert headline.startswith(subject[:-1]) and headline[len(subject) - 1] == " "


def test_headline_text_is_never_read_as_a_format():
    subject = default_subject(
        "{list_name} {0} {headline.__class__}", "2026-W48", settings_with("{headline}")
    )
    assert subject == "{list_name} {0} {headline.__class__}"


@pytest.mark.parametrize(
    "bad",
    [
        "{title}",  # no such place
        "{headline.__class__}",  # attribute access
        "{headline[0]}",  # index access
        "{headline!r}",  # conversion
        "{headline:>200}",  # format spec
        "{0}",
        "Weekly {",  # a lone brace
        "   ",
        "{headline}\r\nBcc: x@example.com",
    ],
)
def test_a_bad_format_stops_start_up_with_one_clear_sentence(bad):
    with pytest.raises(ConfigError) as caught:
        settings_with(bad)
    message = str(caught.value)
    assert message.startswith("MAILER_DIGEST_SUBJECT is ")
    assert "{headline}, {list_name}, {site_name} and {date}" in message


def test_doubled_braces_are_literal_braces():
    subject = default_subject("Rates", "2026-W48", settings_with("{{Weekly}} {headline}"))
    assert subject == "{Weekly} Rates"


@pytest.mark.parametrize(
    ("subject", "shown"),
    [
        ("Rates rise again", "Rates rise again"),
        ("x" * PHONE_CHARS, "x" * PHONE_CHARS),
        (
            "Council delays budget vote as library closures split the chamber",
            "Council delays budget vote as library…",
        ),
        ("Two  spaces\tand a tab", "Two spaces and a tab"),
    ],
)
def test_the_phone_preview_is_what_a_phone_inbox_shows(subject, shown):
    assert subject_preview(subject) == shown
    assert len(subject_preview(subject)) <= PHONE_CHARS


def test_the_desk_shows_the_phone_cut_of_the_subject(client, db, accounts, draft):
    page = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    subject = digests.find_digest(db, draft).subject
    assert f"<strong>On a phone:</strong> {escape(subject_preview(subject))}<br>" in page
