"""The Jinja environments for mail templates, shared by digests and readers' mail: one per
language, each with its catalogue installed once (no per-render or per-reader setup)."""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mailer.core import i18n

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=16)
def environment(folder: str = str(TEMPLATES), language: str = i18n.SOURCE_LANGUAGE):
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    env.filters["longdate"] = partial(_long_date, language=language)
    env.filters["longtime"] = partial(_long_datetime, language=language)
    env.filters["number"] = partial(_number, language=language)
    return env


def _long_date(moment, language: str) -> str:
    return i18n.long_date(moment, language)


def _long_datetime(moment, language: str) -> str:
    return i18n.long_datetime(moment, language)


def _number(value, language: str) -> str:
    return i18n.number(value, language)
