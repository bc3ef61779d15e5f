"""Parts encoded once per issue (mime.PreparedBody) give the same decoded text as encoding each
personalised message whole, with every encoded line within RFC 2045's 76 characters."""

import binascii
import html
import re
from email import message_from_bytes, policy

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mailer.delivery.transports.base import Message
from mailer.delivery.transports.mime import PreparedBody, _qp, join_qp, message_bytes

MARKERS = {"name": "%%NAME-abc%%", "link": "%%LINK-abc%%"}

# text that stresses quoted-printable: spaces and tabs before line ends, "=", 8-bit letters,
# long runs with no break, dots at line starts, CRLF and bare CR, and the markers themselves
PIECE = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab =.\t\n\rzé€—\U0001f600")), max_size=40),
    st.text(alphabet="x", min_size=60, max_size=200),
    st.sampled_from(list(MARKERS.values())),
    st.just(" \n"),
    st.just("=\r\n"),
)
TEMPLATE = st.lists(PIECE, max_size=25).map("".join)
# compose sends a value with a line break the slow way
VALUE = st.text(alphabet=st.sampled_from(list("ab <>&\"'= \té€https:/?x")), max_size=180)


def personalise(template: str, values: dict[str, str], escape=lambda v: v) -> str:
    for name, key in MARKERS.items():
        template = template.replace(key, escape(values.get(name, "")))
    return template


def decoded_lines(encoded: bytes) -> tuple[bytes, list[bytes]]:
    lines = encoded.split(b"\r\n")
    return binascii.a2b_qp(encoded), lines


def check_part(encoded: bytes, expected: str) -> None:
    decoded, lines = decoded_lines(encoded)
    assert decoded == binascii.a2b_qp(_qp(expected))
    assert all(len(line) <= 76 for line in lines), max(lines, key=len)
    assert b"\n" not in encoded.replace(b"\r\n", b"")  # CRLF only


@hsettings(max_examples=500, deadline=None)
@given(TEMPLATE, TEMPLATE, VALUE, VALUE)
def test_prepared_parts_decode_to_the_personalised_text(text, page, name, link):
    values = {"name": name, "link": link}
    body = PreparedBody(text, page, MARKERS).render(values)
    parts = re.split(rb"\r\n--=_[0-9a-f]+(?:--)?\r\n", body)
    plain, rich = (part.split(b"\r\n\r\n", 1)[1] for part in parts[1:3])
    check_part(plain, personalise(text, values))
    check_part(rich, personalise(page, values, lambda v: html.escape(v, quote=True)))


@hsettings(max_examples=150, deadline=None)
@given(TEMPLATE, VALUE)
def test_a_whole_message_reads_back_the_same_as_the_slow_path(text, name):
    values = {"name": name}
    fast = Message(
        "Digest <d@example.com>",
        "r@example.com",
        "Hi",
        personalise(text, values),
        message_id="<m@example.com>",
        mime_body=PreparedBody(text, None, MARKERS).render(values),
    )
    slow = Message("Digest <d@example.com>", "r@example.com", "Hi", fast.text, message_id="<m@x>")
    read = [message_from_bytes(message_bytes(m), policy=policy.default) for m in (fast, slow)]
    assert read[0].get_content() == read[1].get_content()
    assert read[0]["Content-Type"] == read[1]["Content-Type"]


def test_join_breaks_a_long_line_between_pieces_and_not_inside_an_escape():
    pieces = [b"a" * 70, b"=3D=3D=3D", b"b" * 10 + b"\nend=20"]
    joined = join_qp(pieces)
    assert joined == b"a" * 70 + b"=\n=3D=3D=3D" + b"b" * 10 + b"\nend=20"
    assert binascii.a2b_qp(joined) == b"a" * 70 + b"===" + b"b" * 10 + b"\nend "


def test_a_template_without_markers_is_encoded_once_and_reused():
    prepared = PreparedBody("plain words\n", "<p>hi</p>", {})
    assert prepared.render({}) == prepared.render({"name": "ignored"})
    assert prepared.boundary in prepared.render({}).decode()
