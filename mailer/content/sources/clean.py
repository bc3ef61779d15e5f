"""Feed HTML made safe and short: sanitised with nh3, trackers and share buttons removed."""

from __future__ import annotations

import html
import re

import nh3

from mailer.core.text import strip_invisible

EXCERPT_WORDS = 50
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SHARE = re.compile(
    r"(?is)<(a|div|p|span|ul)\b[^>]*(share|social|sharing|tweet|feedflare)[^>]*>.*?</\1>"
)
_PIXEL = re.compile(
    r"(?is)<img\b[^>]*(width=[\"']?1[\"'\s>]|height=[\"']?1[\"'\s>]|feeds\.feedburner|"
    r"pixel|/tracking/|doubleclick|stats\.wp)[^>]*>"
)
_SHARE_TEXT = re.compile(r"(?i)\b(share (this|on)|tweet this|follow us on)\b.*$")


def plain_text(fragment: str | None) -> str:
    """Markup and scripts out, entities decoded, invisible characters dropped, whitespace folded."""
    if not fragment:
        return ""
    safe = nh3.clean(fragment, tags=set(), clean_content_tags={"script", "style"})
    return _SPACE.sub(" ", strip_invisible(html.unescape(_TAGS.sub(" ", safe)))).strip()


def clean_summary(fragment: str | None) -> str:
    """A summary as readable text: tracking pixels and share widgets never survive."""
    if not fragment:
        return ""
    without = _PIXEL.sub(" ", _SHARE.sub(" ", fragment))
    text = plain_text(without)
    return _SHARE_TEXT.sub("", text).strip()


def excerpt(text: str, words: int = EXCERPT_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def first_image(fragment: str | None) -> tuple[str | None, str | None]:
    """The first real image in an HTML fragment (not a pixel), with its alt text."""
    if not fragment:
        return None, None
    for tag in re.findall(r"(?is)<img\b[^>]*>", fragment):
        if _PIXEL.search(tag):
            continue
        src = re.search(r"""(?i)\bsrc=["']([^"']+)["']""", tag)
        alt = re.search(r"""(?i)\balt=["']([^"']*)["']""", tag)
        if src:
            return html.unescape(src.group(1)), html.unescape(alt.group(1)) if alt else None
    return None, None
