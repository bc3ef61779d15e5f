"""`mailer inbound`: mail to the List-Unsubscribe mailto: address, as an MTA pipe hands it over."""

from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from mailer.core.models import ConsentEvent, Subscriber
from mailer.delivery.compose import Recipient, digest_message
from mailer.delivery.inbound import NotAnUnsubscribe, unsubscribe_by_mail
from mailer.readers.links import unsubscribe_token
from tests.conftest import FIXED_NOW
from tests.delivery.test_compose import RENDERED
from tests.fixtures.mailing import add_subscribers


@pytest.fixture
def settings_overrides():
    return {"unsubscribe_address": "Unsubscribe <unsubscribe@news.example.com>"}


def reader(db):
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
    return Recipient(sub.id, sub.email, sub.first_name, sub.token_nonce)


def reply_to_mailto(settings, recipient: Recipient, sender="reader0@example.com") -> bytes:
    """What a mail client sends for the header's mailto: the address and subject it names."""
    message = digest_message(
        RENDERED, recipient, settings, "<m@example.com>", "2026-W48", issued=FIXED_NOW
    )
    mailto = message.headers["List-Unsubscribe"].split(", ")[1].strip("<>")
    parts = urlsplit(mailto)
    reply = EmailMessage()
    reply["From"], reply["To"] = sender, parts.path
    reply["Subject"] = parse_qs(parts.query)["subject"][0]
    reply.set_content("This message will unsubscribe you.")
    return bytes(reply)


def test_the_header_offers_a_signed_mailto_at_the_configured_address(db, settings, now):
    add_subscribers(db, now, 1)
    sub = reader(db)
    message = digest_message(RENDERED, sub, settings, "<m@example.com>", "2026-W48", issued=now)
    token = unsubscribe_token(settings, sub.id, sub.token_nonce, now)  # signed, not a bare id
    assert message.headers["List-Unsubscribe"] == (
        f"<http://localhost/unsubscribe/{token}>, "
        f"<mailto:unsubscribe@news.example.com?subject=unsubscribe-{token}>"
    )


def test_a_reply_to_the_mailto_unsubscribes_once(db, settings, now):
    add_subscribers(db, now, 1)
    raw = reply_to_mailto(settings, reader(db))
    assert unsubscribe_by_mail(db, settings, raw, now).result == "done"
    assert unsubscribe_by_mail(db, settings, raw, now).result == "already"
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        trail = session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "withdraw")).all()
    assert sub.status == "unsubscribed"
    assert [e.detail for e in trail] == [
        {"how": "mail", "previous": "confirmed", "newsletters": ["weekly"], "all": True}
    ]


def test_the_sender_address_is_never_what_counts(db, settings, now):
    add_subscribers(db, now, 2)
    with db.session() as session:
        victim = session.scalar(select(Subscriber).where(Subscriber.email.like("reader1@%")))
    forged = EmailMessage()
    forged["From"] = victim.email
    forged["Subject"] = f"unsubscribe-{victim.id}"
    forged.set_content("unsubscribe me")
    with pytest.raises(NotAnUnsubscribe, match="carries no unsubscribe token"):
        unsubscribe_by_mail(db, settings, bytes(forged), now)
    tampered = reply_to_mailto(settings, reader(db)).replace(b"unsubscribe-", b"unsubscribe-x", 1)
    with pytest.raises(NotAnUnsubscribe, match="not genuine"):
        unsubscribe_by_mail(db, settings, tampered, now)
    with pytest.raises(NotAnUnsubscribe, match="no mail was given"):
        unsubscribe_by_mail(db, settings, b"  \n", now)
    with db.session() as session:
        assert {s.status for s in session.scalars(select(Subscriber))} == {"confirmed"}


def test_mailer_inbound_reads_the_mail_from_standard_input(cli, db, settings, now):
    add_subscribers(db, now, 1)
    sid = reader(db).id
    done = cli("inbound", input=reply_to_mailto(settings, reader(db)))
    assert done.exit_code == 0, done.output
    assert f"Subscriber {sid} unsubscribed by mail." in done.output
    again = cli("inbound", input=reply_to_mailto(settings, reader(db)))
    assert again.exit_code == 0 and "had already unsubscribed" in again.output
    junk = cli("inbound", input=b"Subject: hello\r\n\r\nA question about the paper.\r\n")
    assert junk.exit_code == 1
    assert "Error: the mail's subject carries no unsubscribe token" in junk.output
    assert "Traceback" not in junk.output
