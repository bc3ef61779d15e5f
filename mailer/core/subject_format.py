"""MAILER_DIGEST_SUBJECT: a small format with named places only, checked before anything runs."""

from __future__ import annotations

from string import Formatter

# The places a digest subject may name; each is filled with plain text at build time.
FIELDS = ("headline", "list_name", "site_name", "date")
HELP = (
    "a subject line naming only {headline}, {list_name}, {site_name} and {date} in braces "
    "(write {{ or }} for a brace), such as '{headline}' or '{list_name}, {date}: {headline}'"
)


def problem(template: object) -> str | None:
    """None when the format is usable; else what it accepts (for the start-up error)."""
    text = str(template)
    if not text.strip() or "\n" in text or "\r" in text:
        return HELP
    try:
        places = [(name, spec, conv) for _, name, spec, conv in Formatter().parse(text)]
    except ValueError:  # a lone { or }
        return HELP
    # only a plain {name}: no attribute or index access, no conversion, no format spec
    for name, spec, conv in places:
        if name is not None and (name not in FIELDS or spec or conv):
            return HELP
    return None


def fill(template: str, **values: str) -> str:
    """The subject with each place filled; the values are text, never read as a format."""
    return template.format_map({name: values.get(name, "") for name in FIELDS})
