"""The catalogues: every reader-facing string extracted from the source is translated in every
shipped language, and MAILER_LANGUAGES accepts only languages we ship."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from mailer.core import i18n
from mailer.core.config import Settings
from mailer.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PLACES = re.compile(r"%\(\w+\)s|\{\w+\}")


def extracted(tmp_path) -> dict:
    """The strings in the source now, as `make catalogues` extracts them."""
    pot = tmp_path / "now.pot"
    subprocess.run(
        [
            *(sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg"),
            *("-k", "_l", "-k", "N_", "-k", "gettext_for:2", "-k", "ngettext_for:2,3"),
            *("--no-location", "-o", str(pot), "."),
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as fp:
        return {m.id: m for m in read_po(fp) if m.id}


def test_every_catalogue_translates_every_string_in_the_source(tmp_path):
    source = extracted(tmp_path)
    assert len(source) > 150  # the reader pages, the mail and the Python messages
    with (i18n.CATALOGUES / "messages.pot").open("rb") as fp:
        template = {m.id for m in read_po(fp) if m.id}
    assert template == set(source), "run `make catalogues`: messages.pot is out of date"
    languages = [code for code in i18n.shipped() if code != i18n.SOURCE_LANGUAGE]
    assert "de" in languages
    for code in languages:
        with i18n.catalogue_path(code).open("rb") as fp:
            catalogue = {m.id: m for m in read_po(fp, locale=code) if m.id}
        missing = [key for key in source if key not in catalogue]
        untranslated = [k for k, m in catalogue.items() if k in source and not all(_forms(m))]
        fuzzy = [k for k, m in catalogue.items() if k in source and m.fuzzy]
        assert (missing, untranslated, fuzzy) == ([], [], []), code
        for key, message in catalogue.items():  # no value the English names goes missing
            english = set(PLACES.findall(" ".join(key) if isinstance(key, tuple) else key))
            for form in _forms(message):
                places = set(PLACES.findall(form))
                assert places <= english if isinstance(key, tuple) else places == english, key


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def test_pages_and_mail_share_one_catalogue_object_per_language():
    assert i18n.translations("de") is i18n.translations("de")
    assert i18n.translations("de").gettext("Related coverage") == "Mehr zum Thema"
    assert i18n.long_date(__import__("datetime").date(2026, 11, 30), "de") == (
        "Montag, 30. November 2026"
    )
    assert i18n.long_date(__import__("datetime").date(2026, 11, 30), "en") == (
        "Monday 30 November 2026"
    )
    assert i18n.number(1234, "de") == "1.234"
    assert i18n.pick("de-AT", ("en", "de"), "en") == "de"
    assert i18n.pick("fr", ("en", "de"), "en") == "en"


@pytest.mark.parametrize(
    ("environ", "sentence"),
    [
        ({"MAILER_LANGUAGES": "en,fr"}, "there is no catalogue for 'fr'"),
        ({"MAILER_LANGUAGES": "en,x!"}, "is not a language code"),
        ({"MAILER_DEFAULT_LANGUAGE": "de", "MAILER_LANGUAGES": "en"}, "MAILER_DEFAULT_LANGUAGE"),
    ],
)
def test_languages_without_a_catalogue_are_refused_in_one_sentence(environ, sentence, tmp_path):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ={"MAILER_INSTANCE_DIR": str(tmp_path), **environ})
    assert sentence in str(refused.value)
    assert str(refused.value).count(".") >= 1 and "\n" not in str(refused.value)
