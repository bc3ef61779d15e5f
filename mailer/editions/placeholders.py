"""Keep providers' own per-recipient placeholders out of the HTML we hand them.

Postmark's broadcast streams fill `{{{ pm:unsubscribe }}}`, Mailgun fills `%unsubscribe_url%`
and `%recipient.x%`, SendGrid `<%asm_global_unsubscribe_raw_url%>`, SES and Resend `{{...}}`:
each with a link of the reader's own. Text from a feed may carry those spellings too, so in the
HTML part their `%`, `{` and `}` become character references: a browser shows and follows the
same characters, and the provider, which matches the raw spelling, finds nothing to fill.
"""

from __future__ import annotations

import re

_PERCENT_NAME = re.compile(r"%([A-Za-z][\w.]*)%")  # Mailgun, SendGrid; never our %%NAME-nonce%%
_BRACES = re.compile(r"\{\{+|\}\}+")  # mustache and handlebars: Postmark, SES, Resend
_RAW_TEXT = re.compile(r"(?is)(<(style|script)\b.*?</\2\s*>)")  # references mean nothing there


def _references(chars: str) -> str:
    return "".join(f"&#{ord(c)};" for c in chars)


def _hide(fragment: str) -> str:
    fragment = _PERCENT_NAME.sub(lambda m: f"&#37;{m.group(1)}&#37;", fragment)
    return _BRACES.sub(lambda m: _references(m.group(0)), fragment)


def hide_provider_placeholders(document: str) -> str:
    """The same document, as shown, with no provider placeholder spelled out in it."""
    parts = _RAW_TEXT.split(document)
    # split() with two groups yields: text, whole raw element, its tag name, text, ...
    out = []
    for index, part in enumerate(parts):
        kind = index % 3
        if kind == 0:
            out.append(_hide(part))
        elif kind == 1:
            out.append(part)
    return "".join(out)
