"""JSON for the providers that take each reader's whole message (Postmark, Resend): the issue's
text and HTML are JSON-encoded once per send, with the render's markers still in them, and a
reader's part is those encoded pieces with the reader's JSON-escaped values between them.

JSON escapes a string character by character, so the spliced string is exactly what
json.dumps makes of the filled part: the same bytes as encoding each reader's whole message
(tests/delivery/transports/test_splice.py holds the two side by side, hostile values too),
without re-encoding some 30 KB of HTML for every reader.
"""

from __future__ import annotations

import functools
import html
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from json.encoder import encode_basestring_ascii as _quoted  # json.dumps' own escaping

from mailer.delivery.transports.base import Message

# Stand-ins for the text and HTML while the rest of a reader's entry is encoded: random per
# process, so no subject, header or address can spell one.
_SLOT = "splice-" + secrets.token_hex(16)
_TEXT, _HTML = _SLOT + "-text", _SLOT + "-html"
_SLOTS = re.compile(f'"({_TEXT}|{_HTML})"')


@functools.lru_cache(maxsize=32)
def _pieces(part: str, markers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, ...], tuple]:
    """`part` as a JSON string cut at its markers: (the encoded pieces, quotes included at
    both ends, and the marker names between them). Once per part of a send: every reader of
    an issue shares its parts (and their cached hashes), so this is a lookup after the first."""
    by_key = {key: name for name, key in markers if key in part}
    if not by_key:
        return (_quoted(part).encode(),), ()
    cut = re.split("(" + "|".join(re.escape(key) for key in by_key) + ")", part)
    pieces = [_quoted(text)[1:-1] for text in cut[0::2]]
    pieces[0], pieces[-1] = '"' + pieces[0], pieces[-1] + '"'
    return tuple(p.encode() for p in pieces), tuple(by_key[key] for key in cut[1::2])


def encoded_part(
    part: str, markers: Mapping[str, str], values: Mapping[str, str], in_html: bool
) -> list[bytes]:
    """json.dumps of `part` with each marker filled by the reader's value (HTML-escaped in
    the HTML part, as render.fill does), as fragments: the part's pieces, encoded once, with
    the reader's escaped values between them."""
    pieces, names = _pieces(part, tuple(markers.items()))
    if not names:
        return [pieces[0]]
    escaped = {}
    for name in set(names):
        value = values.get(name, "")
        escaped[name] = _quoted(html.escape(value, quote=True) if in_html else value)[1:-1].encode()
    out = [pieces[0]]
    for name, piece in zip(names, pieces[1:], strict=True):
        out.append(escaped[name])
        out.append(piece)
    return out


def encoded_entry(build: Callable[[Message], dict], message: Message) -> list[bytes]:
    """json.dumps(build(message.filled())), as fragments to join, with the text and HTML
    spliced in rather than filled and encoded whole; `build` is the provider's own
    message-to-JSON function."""
    if not message.markers:
        return [json.dumps(build(message)).encode()]
    from mailer.editions.render import fill

    markers, values = message.markers, message.values
    subject = fill(message.subject, "", None, markers, values)[0]
    stand_in = replace(
        message,
        subject=subject,
        text=_TEXT,
        html=None if message.html is None else _HTML,
        markers={},
        values={},
    )
    out: list[bytes] = []
    for index, fragment in enumerate(_SLOTS.split(json.dumps(build(stand_in)))):
        if index % 2 == 0:
            out.append(fragment.encode())
        elif fragment == _TEXT:
            out += encoded_part(message.text, markers, values, False)
        else:
            out += encoded_part(message.html or "", markers, values, True)
    return out


def json_array(entries: list[list[bytes]]) -> bytes:
    """The request body json.dumps would make of the list of entries, in one join."""
    fragments = [b"["]
    for number, entry in enumerate(entries):
        if number:
            fragments.append(b", ")
        fragments += entry
    fragments.append(b"]")
    return b"".join(fragments)
