"""The one Jinja environment for mail templates, shared by digests and readers' mail."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=4)
def environment(folder: str = str(TEMPLATES)):
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
