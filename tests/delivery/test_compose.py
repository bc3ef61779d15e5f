"""The headers and parts of one digest message, read back from the .eml the file transport wrote."""

from email import message_from_bytes, policy

from mailer.delivery.compose import Recipient, digest_message
from mailer.delivery.transports.file import FileTransport
from mailer.editions.render import RenderedDigest, marker, new_nonce
from mailer.readers.links import unsubscribe_url
from tests.conftest import FIXED_NOW as SENT

NONCE = new_nonce()
GREETING, UNSUBSCRIBE = marker("greeting", NONCE), marker("unsubscribe_url", NONCE)
RENDERED = RenderedDigest(
    subject="The week: five stories",
    preheader="Floods, budgets and a cup final",
    html=f'<p>{GREETING}</p><a href="{UNSUBSCRIBE}">Unsubscribe</a>',
    text=f"{GREETING}\nUnsubscribe: {UNSUBSCRIBE}\n",
    nonce=NONCE,
)


def test_headers_and_parts_are_exact(settings, tmp_path):
    reader = Recipient(7, "zoë.reader@example.com", "Zoë & Co", "nonce7")
    message = digest_message(
        RENDERED, reader, settings, "<abc123@example.com>", "2026-W48", 42, SENT
    )
    transport = FileTransport(tmp_path / "mail")
    [result] = transport.send([message])
    assert result.accepted
    parsed = message_from_bytes(
        (tmp_path / "mail" / result.provider_id).read_bytes(), policy=policy.default
    )

    link = unsubscribe_url(settings, 7, "nonce7", SENT)
    assert parsed["To"] == "zoë.reader@example.com"
    assert parsed["Message-ID"] == "<abc123@example.com>"
    assert parsed["List-Unsubscribe"] == f"<{link}>"  # no mailto: without an address for it
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == f"{settings.list_name} <digest.example.com>"
    assert parsed["Feedback-ID"] == "2026-W48:digest:example.com"
    assert parsed["Precedence"] == "bulk"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Subject"] == "The week: five stories"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Hello Zoë & Co," in text and f"Unsubscribe: {link}" in text
    assert "Hello Zoë &amp; Co," in html and f'href="{link}"' in html
    assert "%%" not in text + html


def test_every_recipient_gets_their_own_link_from_one_render(settings):
    first = digest_message(
        RENDERED,
        Recipient(1, "a@example.com", None, "n1"),
        settings,
        "<1@x>",
        "2026-W48",
        issued=SENT,
    )
    second = digest_message(
        RENDERED,
        Recipient(2, "b@example.com", "Bo", "n2"),
        settings,
        "<2@x>",
        "2026-W48",
        issued=SENT,
    )
    assert unsubscribe_url(settings, 1, "n1", SENT) in first.text
    assert unsubscribe_url(settings, 2, "n2", SENT) in second.text
    assert first.text.startswith("Hello,\n") and second.text.startswith("Hello Bo,\n")
    assert first.recipient == "a@example.com" and second.recipient == "b@example.com"


def test_a_message_for_a_bytes_only_transport_is_the_same_mail(settings):
    """SMTP reads only as_bytes(): its text and HTML stay unfilled, the bytes do not change."""
    reader = Recipient(3, "c@example.com", "Zoë & Co", "n3")
    args = (RENDERED, reader, settings, "<3@x>", "2026-W48", 9, SENT)
    whole = digest_message(*args)
    lazy = digest_message(*args, bytes_only=True)
    assert lazy.markers and lazy.mime_body is not None  # text and HTML left unfilled
    without_date = [
        b"".join(line for line in m.as_bytes().splitlines(True) if not line.startswith(b"Date:"))
        for m in (whole, lazy)
    ]
    assert without_date[0] == without_date[1]
    filled = lazy.filled()
    assert (filled.subject, filled.text, filled.html) == (whole.subject, whole.text, whole.html)
    # a value with a line break takes the slow path, filled as before
    broken = Recipient(4, "d@example.com", "Zoë\r\nBcc: x@example.com", "n4")
    slow = digest_message(RENDERED, broken, settings, "<4@x>", "2026-W48", 9, SENT, bytes_only=True)
    assert slow.mime_body is None and not slow.markers
