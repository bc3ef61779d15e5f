"""A return path per message (MAILER_BOUNCE_VERP) over the real SMTP fixture, and bounces fed
back through `mailer inbound --recipient` while the send is still going."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from mailer.core.errors import ConfigError
from mailer.core.models import Delivery, Digest, Subscriber
from mailer.delivery import verp
from mailer.delivery.checks import check_providers
from mailer.delivery.inbound import handle_mail
from tests.delivery.test_inbound_reports import dsn, states
from tests.fixtures.mailing import add_subscribers, delivery_states, mailer_env, send_now

SHAPE = re.compile(r"bounces\+([0-9a-z]+)-[a-z2-7]{12}@news\.example\.com")


@pytest.fixture
def settings_overrides(smtp_server):
    return {
        "transport": smtp_server.dsn(),
        "send_rate": 1000.0,
        "bounce_address": "bounces@news.example.com",
        "bounce_verp": True,
        "guardrail_window": 20,
        "guardrail_min_sample": 10,
    }


def return_paths(db, settings) -> dict[str, str]:
    """The return path each reader's message was given, by address."""
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.id).join(
                Delivery, Delivery.subscriber_id == Subscriber.id
            )
        ).all()
    return {email: verp.return_path(settings, delivery_id) for email, delivery_id in rows}


def token_number(settings, delivery_id: int) -> str:
    """The delivery part of a return path's token."""
    return verp.return_path(settings, delivery_id).split("+")[1].split("-")[0]


def unquoted_bounce(final_recipient: str) -> bytes:
    """A bounce that quotes no Message-ID and names a forwarded-to address, as many do."""
    quoted = dsn("<none@x>", final_recipient)
    return quoted.split(b"--B1\r\nContent-Type: text/rfc822-headers")[0] + b"--B1--\r\n"


def test_each_message_leaves_with_its_own_signed_return_path(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 5)
    assert send_now(db, settings, approved_digest).sent == 5
    paths = return_paths(db, settings)
    envelopes = {m.rcpt_tos[0]: m.mail_from for m in smtp_server.messages}
    assert envelopes == paths
    assert len(set(envelopes.values())) == 5
    for address, path in envelopes.items():
        match = SHAPE.fullmatch(path)
        assert match, path
        assert len(path.split("@")[0]) <= 64  # the local part's limit
        assert verp.delivery_of(settings, path) == int(match.group(1), 36)
        assert address not in path


def test_a_bounce_to_the_return_path_finds_the_reader_without_a_message_id(
    cli, db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 3)
    assert send_now(db, settings, approved_digest).sent == 3
    paths = return_paths(db, settings)
    bounce = unquoted_bounce("someone@forwarded.example.net")

    hard = cli("inbound", "--recipient", paths["reader1@example.com"], input=bounce)
    assert hard.exit_code == 0, hard.output
    assert "Applied a bounce_hard report" in hard.output and "now suppressed" in hard.output
    # as Postfix hands it to an alias pipe: the address in ORIGINAL_RECIPIENT, in upper case
    env = {"ORIGINAL_RECIPIENT": paths["reader1@example.com"].upper()}
    again = cli("inbound", input=bounce, env=env)
    assert again.exit_code == 0 and "was applied before" in again.output
    # without the return path the same mail is refused: it quotes nothing we sent
    assert cli("inbound", input=bounce).exit_code == 1

    # a report at reader2's return path quoting reader0's Message-ID is about reader2
    with db.session() as session:
        other = session.scalar(
            select(Delivery.message_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Subscriber.email == "reader0@example.com")
        )
    quoting = dsn(other, "reader0@example.com")
    done = cli("inbound", "--recipient", paths["reader2@example.com"], input=quoting)
    assert done.exit_code == 0, done.output
    assert states(db) == {
        "reader0@example.com": ("confirmed", None),
        "reader1@example.com": ("bounced", "bounce"),
        "reader2@example.com": ("bounced", "bounce"),
    }


def test_forged_return_paths_and_other_mail_are_refused(
    cli, db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 2)
    assert send_now(db, settings, approved_digest).sent == 2
    genuine = return_paths(db, settings)["reader0@example.com"]
    local, domain = genuine.split("@")
    base, token = local.split("+")
    number, mac = token.split("-")
    other_secret = dataclasses.replace(settings, secret_key="another-secret-" * 4)
    forged = [
        f"{base}+{number}-{mac[:-1]}{'a' if mac[-1] != 'a' else 'b'}@{domain}",  # one char off
        f"{base}+{token_number(settings, int(number, 36) + 1)}-{mac}@{domain}",  # the next one
        verp.return_path(other_secret, int(number, 36)),  # signed with another key
        f"{base}+{number}@{domain}",  # no MAC at all
        f"{base}+{'9' * 40}-{mac}@{domain}",  # an absurd id
    ]
    bounce = unquoted_bounce("reader0@example.com")
    for address in forged:
        refused = cli("inbound", "--recipient", address, input=bounce)
        assert refused.exit_code == 1, address
        assert "a return path whose token we did not issue" in refused.output
        assert "Traceback" not in refused.output
    auto_reply = b"Subject: Out of office\r\n\r\nBack on Monday.\r\n"
    reply = cli("inbound", "--recipient", genuine, input=auto_reply)
    assert reply.exit_code == 1 and "no bounce or complaint report" in reply.output
    assert states(db) == {
        "reader0@example.com": ("confirmed", None),
        "reader1@example.com": ("confirmed", None),
    }


def test_an_mta_pipe_with_a_forged_return_path_exits_1(settings):
    """The real `mailer` process, as Postfix's local(8) runs it with ORIGINAL_RECIPIENT set."""
    forged = "bounces+1-aaaaaaaaaaaa@news.example.com"
    done = subprocess.run(
        [sys.executable, "-m", "mailer", "inbound"],
        input=unquoted_bounce("reader0@example.com"),
        capture_output=True,
        env=mailer_env(settings, ORIGINAL_RECIPIENT=forged),
        timeout=60,
    )
    assert done.returncode == 1
    assert b"a return path whose token we did not issue" in done.stderr + done.stdout


def test_bounces_arriving_mid_send_pause_it(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 60)
    # one connection, claims of 2 at 5 a second: a pause is seen within 2 messages, and the
    # two reports below are applied long before the 60 could be sent, even on a busy machine
    slow = dataclasses.replace(settings, send_concurrency=1, send_rate=5.0, lease_seconds=5)
    outcome = {}
    sender = threading.Thread(
        target=lambda: outcome.update(report=send_now(db, slow, approved_digest))
    )
    sender.start()
    smtp_server.wait_for(12)
    received = smtp_server.messages[:2]
    for message in received:
        answer = handle_mail(
            db, settings, unquoted_bounce(message.rcpt_tos[0]), now, message.mail_from
        )
        assert answer.startswith("Applied a bounce_hard report")
    sender.join(30)
    assert not sender.is_alive()
    # paused by the inbound report, in this thread: the engine stops at its next claim
    assert outcome["report"].paused == "the digest is paused"
    with db.session() as session:
        digest = session.get(Digest, approved_digest)
        assert digest.status == "paused"
        assert digest.status_reason.startswith("guardrail: hard-bounce rate")
    left = list(delivery_states(db).values()).count("pending")
    # stopped within the claim in flight of the pause, far from the 60
    assert left > 0 and len(smtp_server.messages) <= 40
    time.sleep(0.2)
    assert len(smtp_server.messages) + left == 60


def test_verp_needs_a_bounce_address_without_a_plus(settings):
    for address, words in (("", "needs MAILER_BOUNCE_ADDRESS"), ("b+x@news.example.com", "'+'")):
        broken = dataclasses.replace(settings, bounce_address=address)
        with pytest.raises(ConfigError, match=re.escape(words)):
            check_providers(broken)
