import smtplib
import socket
import ssl

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.delivery.transports import transport_from_dsn
from mailer.delivery.transports.base import Message, TransportError
from mailer.delivery.transports.smtp import dot_stuffed
from tests.fixtures.smtp import free_port, start_smtp_server


@pytest.fixture
def smtp(request):
    """Build transports from DSNs and close them after the test."""
    made = []

    def build(dsn):
        made.append(transport_from_dsn(dsn))
        return made[-1]

    yield build
    for transport in made:
        transport.close()


def message(recipient="reader@example.com", n=1):
    return Message(
        sender="Digest <digest@example.com>",
        recipient=recipient,
        subject="This week",
        text="Hello\n.\nA line that starts with a dot",
        html="<p>Hello</p>",
        message_id=f"<d{n}@example.com>",
        headers={
            "List-Unsubscribe": "<https://news.example.com/u/tok>, <mailto:u@example.com>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def test_one_envelope_recipient_per_message_over_one_reused_connection(smtp_server, smtp):
    transport = smtp(smtp_server.dsn())
    results = transport.send([message("a@example.com", 1), message("b@example.com", 2)])
    results += transport.send([message("c@example.com", 3)])
    transport.close()
    assert [r.status for r in results] == ["sent"] * 3
    got = smtp_server.messages
    assert [m.rcpt_tos for m in got] == [["a@example.com"], ["b@example.com"], ["c@example.com"]]
    assert all(m.mail_from == "digest@example.com" for m in got)
    first = got[0].message
    assert first["To"] == "a@example.com"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Message-ID"] == "<d1@example.com>"
    assert "\n.\n" in first.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert smtp_server.connections == 1


@pytest.mark.parametrize(
    "raw",
    [b".starts\r\n", b"a\r\n.\r\n..b\r\n", b"no end", b"x\n.y\r.z", b"", b"\r\n.", b"."],
)
def test_dot_stuffing_is_what_smtplib_sends(raw):
    """smtplib's own quoting of our CRLF bytes, and the end of DATA, byte for byte."""
    expected = smtplib._quote_periods(raw)
    expected += b"" if expected.endswith(b"\r\n") else b"\r\n"
    assert dot_stuffed(raw) == expected + b".\r\n"


def test_451_is_transient_and_550_permanent_for_that_recipient_only(smtp_server, smtp):
    smtp_server.script.rcpt_replies = {
        "busy@example.com": "451 4.7.1 Try again later",
        "gone@example.com": "550 5.1.1 No such user",
    }
    transport = smtp(smtp_server.dsn())
    results = transport.send(
        [message("busy@example.com"), message("gone@example.com"), message("ok@example.com")]
    )
    busy, gone, ok = results
    assert (busy.status, busy.retryable) == ("failed", True)
    assert "451" in busy.error
    assert (gone.status, gone.retryable) == ("rejected", False)
    assert "550" in gone.error
    assert ok.status == "sent"
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ok@example.com"]]


def test_421_mid_session_is_retryable_and_the_next_message_reconnects(smtp_server, smtp):
    smtp_server.script.close_with_421_after = 1
    transport = smtp(smtp_server.dsn())
    first, second, third = transport.send(
        [message("a@example.com", 1), message("b@example.com", 2), message("c@example.com", 3)]
    )
    assert first.status == "sent"
    assert (second.status, second.retryable) == ("failed", True)
    assert "421" in second.error
    assert third.status == "sent"
    assert smtp_server.connections == 2
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == ["a@example.com", "c@example.com"]


def test_a_drop_after_data_is_unknown_not_retried(smtp_server, smtp):
    smtp_server.script.drop_after_data = 1
    transport = smtp(smtp_server.dsn())
    dropped, after = transport.send([message("a@example.com", 1), message("b@example.com", 2)])
    assert (dropped.status, dropped.retryable) == ("unknown", False)
    assert after.status == "sent"  # a fresh connection carries on
    assert len(smtp_server.messages) == 2  # the server did store the dropped one


def test_a_connection_closed_while_idle_is_reopened(smtp_server, smtp):
    transport = smtp(smtp_server.dsn())
    assert transport.send([message(n=1)])[0].status == "sent"
    transport.connection.sock.shutdown(socket.SHUT_RDWR)  # as if the server had hung up
    assert transport.send([message(n=2)])[0].status == "sent"
    assert smtp_server.connections == 2


def test_refused_connection_raises_retryable_transport_error(smtp):
    transport = smtp(f"smtp://127.0.0.1:{free_port()}?tls=none&timeout=2")
    with pytest.raises(TransportError) as caught:
        transport.send([message()])
    assert caught.value.retryable


def test_plain_text_is_refused_for_remote_hosts():
    with pytest.raises(ValueError, match="loopback"):
        transport_from_dsn("smtp://mail.example.com:587?tls=none")


def test_starttls_is_required_when_not_offered(smtp_server, smtp):
    transport = smtp(f"smtp://127.0.0.1:{smtp_server.port}")
    with pytest.raises(TransportError, match="STARTTLS") as caught:
        transport.send([message()])
    assert not caught.value.retryable


def check_login(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"news",
        b"p@ss",
    )
    return AuthResult(success=ok)


@pytest.fixture
def tls_server(tmp_path):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server = start_smtp_server(
        tls_context=server_context, require_starttls=True, authenticator=check_login
    )
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    yield server, cafile
    server.controller.stop()


def test_starttls_with_an_untrusted_certificate_is_refused(tls_server, smtp):
    server, _ = tls_server
    transport = smtp(f"smtp://127.0.0.1:{server.port}")
    with pytest.raises(TransportError, match="certificate") as caught:
        transport.send([message()])
    assert not caught.value.retryable
    assert server.messages == []


def test_starttls_with_a_trusted_certificate_sends_and_logs_in(tls_server, smtp):
    server, cafile = tls_server
    transport = smtp(f"smtp://news:p%40ss@127.0.0.1:{server.port}?cafile={cafile}")
    assert transport.send([message()])[0].status == "sent"
    assert server.messages[0].rcpt_tos == ["reader@example.com"]


def test_smtps_speaks_tls_from_the_first_byte(tmp_path, smtp):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server = start_smtp_server(ssl_context=server_context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    try:
        transport = smtp(f"smtps://127.0.0.1:{server.port}?cafile={cafile}")
        assert transport.send([message()])[0].status == "sent"
        transport.close()  # before the server stops, so it sees QUIT
        assert server.messages[0].rcpt_tos == ["reader@example.com"]
    finally:
        server.controller.stop()


def test_421_to_rcpt_reconnects_for_the_next_message(smtp_server, smtp):
    smtp_server.script.rcpt_replies = {"a@example.com": "421 4.7.0 Too many connections"}
    transport = smtp(smtp_server.dsn())
    first, second = transport.send([message("a@example.com", 1), message("b@example.com", 2)])
    assert (first.status, first.retryable) == ("failed", True)
    assert second.status == "sent"
    assert smtp_server.connections == 2


def test_an_address_that_would_inject_commands_is_invalid_and_never_sent(smtp_server, smtp):
    transport = smtp(smtp_server.dsn())
    bad, good = transport.send(
        [message("x@example.com>\r\nRCPT TO:<evil@example.com"), message("ok@example.com", 2)]
    )
    assert (bad.status, bad.retryable) == ("invalid", False)
    assert good.status == "sent"
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ok@example.com"]]


def test_list_unsubscribe_is_folded_between_its_links_never_inside_one(smtp_server, smtp):
    from email import message_from_bytes, policy

    long_link = "<https://news.example.com/unsubscribe/" + "t" * 200 + ">"
    headers = {"List-Unsubscribe": f"{long_link}, <mailto:u@example.com?subject=unsubscribe-x>"}
    sent = Message(**{**message().__dict__, "headers": headers})
    assert smtp(smtp_server.dsn()).send([sent])[0].status == "sent"
    raw = smtp_server.messages[0].data.replace(b"\r\n", b"\n")
    assert f"List-Unsubscribe: {long_link},\n <mailto:u@example.com".encode() in raw
    parsed = message_from_bytes(raw, policy=policy.default)
    assert " ".join(parsed["List-Unsubscribe"].split()) == headers["List-Unsubscribe"]
