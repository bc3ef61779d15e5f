"""Outside text made fit to show: no invisible characters that reorder or hide what is read."""

from __future__ import annotations

import re

# Bidi embeddings and overrides (U+202A-U+202E), bidi isolates (U+2066-U+2069), zero-width
# space, non-joiner, joiner and direction marks (U+200B-U+200F), word joiner (U+2060) and the
# byte-order mark (U+FEFF): a headline can use them to read differently from what it says.
INVISIBLE = (
    frozenset(map(chr, range(0x202A, 0x202F)))
    | frozenset(map(chr, range(0x2066, 0x206A)))
    | frozenset(map(chr, range(0x200B, 0x2010)))
    | {"\u2060", "\ufeff"}
)
# Control characters (C0 but tab and line breaks, DEL, C1) are never text: a terminal or a
# mail header would act on them.
CONTROLS = frozenset(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]) - set("\t\n\r")
_DROP = {ord(c): None for c in (INVISIBLE | CONTROLS) - {"\u200c", "\u200d"}}
# The joiners shape scripts and emoji only inside a run of visible characters; elsewhere they
# hide something, so only a joiner between two visible characters is kept.
_LOOSE_JOINER = re.compile(
    r"(?<![^\s\u200c\u200d])[\u200c\u200d]|[\u200c\u200d](?![^\s\u200c\u200d])"
)


def strip_invisible(text: str) -> str:
    """The text without bidi, zero-width or control characters; joiners inside words kept."""
    if text.isascii() and (text.isprintable() or not any(c in CONTROLS for c in text)):
        return text
    dropped = text.translate(_DROP)
    while True:
        loose = _LOOSE_JOINER.sub("", dropped)
        if loose == dropped:
            return loose
        dropped = loose
