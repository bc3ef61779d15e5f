"""Postmark and Resend splice each reader's values into the issue's JSON encoded once: what
goes out must be, byte for byte, what encoding each reader's whole message would have sent."""

import json

import pytest

from mailer.delivery.transports import _splice, resend
from mailer.delivery.transports.base import Message
from mailer.editions.render import PLACEHOLDERS, marker, new_nonce
from tests.delivery.transports.common import build, message

NONCE = new_nonce()
MARKERS = {name: marker(name, NONCE) for name in PLACEHOLDERS}
M = MARKERS
# what a reader's values could hold at worst: JSON's own syntax, markup, line separators that
# break JavaScript, characters outside the BMP (surrogate pairs in JSON), every provider's
# placeholder spelling, a marker of another render, and control characters
HOSTILE = [
    'Ann "the" \\ O\'Brien',
    "</script><script>alert(1)</script>",
    "line\u2028sep\u2029para\x00nul\x1f\t\r\n",
    "😀 \U0001d49cnn 文 é",
    "{{{ pm:unsubscribe }}} {{name}} %recipient.first% %unsubscribe_url% -r1234- "
    "<%asm_global_unsubscribe_raw_url%>",
    f"%%FIRST_NAME-{new_nonce()}%%",
    "",
]


def issue_message(n: int, first_name: str) -> Message:
    """A digest in the batch form: markers at the start, the end, side by side and repeated,
    around story text that itself holds quotes, non-ASCII and placeholder spellings."""
    story = 'Story "one" \\ café 😀 \u2028 {{x}} %recipient.y% </script>'
    html = (
        f"{M['greeting']}<p>{story}</p><p>{M['first_name']}{M['first_name']}</p>"
        f'<a href="https://n.example/c/1/{M["click_reader"]}">a</a>'
        f'<a href="{M["unsubscribe_url"]}">Leave</a><a href="{M["preferences_url"]}">Prefs</a>'
        f"{M['greeting']}"
    )
    text = f"{M['greeting']}\n{story}\nLeave: {M['unsubscribe_url']}\n{M['first_name']}"
    return message(
        n,
        subject=f"For {M['first_name']}: top stories",
        text=text,
        html=html,
        markers=MARKERS,
        values={
            "greeting": f"Hello {first_name},",
            "first_name": first_name,
            "unsubscribe_url": f'https://n.example/u/tok-{n}?a=1&b="2"',
            "preferences_url": f"https://n.example/p/{n}",
            "click_reader": f"r{n}",
        },
    )


MESSAGES = [issue_message(n, name) for n, name in enumerate(HOSTILE, start=1)]


@pytest.mark.parametrize("provider", ["postmark", "resend"])
def test_a_spliced_entry_is_exactly_the_whole_message_encoded(provider):
    one = build(f"{provider}://k@default").one if provider == "postmark" else resend.one
    spliced = []
    for sent in [*MESSAGES, message(99), message(98, html=None)]:
        spliced.append(b"".join(_splice.encoded_entry(one, sent)).decode())
        assert spliced[-1] == json.dumps(one(sent.filled()))
        assert json.loads(spliced[-1]) == one(sent.filled())
    hostile = "".join(spliced)
    assert "\\u2028" in hostile and "\\ud83d\\ude00" in hostile and "</script>" in hostile


@pytest.mark.parametrize("fake_name", ["postmark_fake", "resend_fake"])
def test_what_goes_out_is_the_body_the_whole_messages_would_make(fake_name, request):
    fake = request.getfixturevalue(fake_name)
    transport = build(fake.dsn)
    one = transport.one if fake_name == "postmark_fake" else resend.one
    results = transport.send(MESSAGES)
    assert [r.status for r in results] == ["queued"] * len(MESSAGES)
    (sent,) = fake.server.requests
    assert sent.body == json.dumps([one(m.filled()) for m in MESSAGES]).encode()
    assert sent.headers["Content-Type"] == "application/json"
    (call,) = fake.calls
    assert NONCE not in sent.body.decode()
    assert call[0]["Subject" if fake_name == "postmark_fake" else "subject"] == (
        'For Ann "the" \\ O\'Brien: top stories'
    )
