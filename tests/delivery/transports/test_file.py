from email import message_from_bytes, policy

from mailer.delivery.transports import parse_dsn, transport_from_dsn, transport_options
from mailer.delivery.transports.base import Message


def sample(recipient="reader@example.com", message_id="<abc.1@example.com>"):
    return Message(
        sender="Digest <digest@example.com>",
        recipient=recipient,
        subject="Hello\r\nBcc: evil@example.com",
        text="Plain words",
        html="<p>Plain words</p>",
        message_id=message_id,
        headers={"List-Id": "Digest <digest.example.com>"},
    )


def test_file_transport_writes_one_eml_per_message(tmp_path):
    transport = transport_from_dsn(f"file://{tmp_path / 'out'}")
    results = transport.send([sample(), sample("b@example.com", "<abc.2@example.com>")])
    assert [r.status for r in results] == ["sent", "sent"]
    files = sorted((tmp_path / "out").glob("*.eml"))
    assert len(files) == 2
    assert not list((tmp_path / "out").glob(".tmp-*"))
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "reader@example.com"
    assert parsed["Bcc"] is None  # a line break in a subject never makes a header
    assert parsed.get_content_type() == "multipart/alternative"


def test_a_retry_overwrites_the_same_file(tmp_path):
    transport = transport_from_dsn(f"file://{tmp_path}")
    transport.send([sample()])
    transport.send([sample()])
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_relative_instance_folder_follows_settings(tmp_path):
    from mailer.core.config import Settings

    settings = Settings.from_env({}, instance_dir=str(tmp_path / "inst"))
    transport = transport_from_dsn("file://instance/outbox", transport_options(settings))
    assert transport.folder == tmp_path / "inst" / "outbox"


def test_dsn_parsing():
    dsn = parse_dsn("mailgun://key-1:mg.example.com@default?region=eu")
    assert (dsn.scheme, dsn.user, dsn.password, dsn.options) == (
        "mailgun",
        "key-1",
        "mg.example.com",
        {"region": "eu"},
    )
    assert dsn.uses_default_endpoint
    assert parse_dsn("smtp://u:p%40ss@127.0.0.1:2525").password == "p@ss"


def test_console_transport_prints(capsys):
    transport = transport_from_dsn("console://")
    transport.send([sample()])
    assert "Plain words" in capsys.readouterr().out
