import logging

import pytest

from mailer.delivery import dkim
from mailer.delivery.dkim import signer_from_settings
from mailer.delivery.dkim_pool import signing_processes
from tests.delivery.transports.common import message
from tests.delivery.transports.test_dkim import dkim_settings, keys, verify_all  # noqa: F401
from tests.fixtures.mailing import add_subscribers, send_now


@pytest.fixture
def settings_overrides(smtp_server, keys):  # noqa: F811
    folder, _ = keys
    overrides = {k: getattr(dkim_settings(folder), k) for k in DKIM_FIELDS}
    return {
        "transport": smtp_server.dsn(),
        "send_rate": 100_000.0,
        "send_concurrency": 2,
        "dkim_processes": 2,
        **overrides,
    }


DKIM_FIELDS = (
    "dkim_domain",
    "dkim_selector",
    "dkim_private_key",
    "dkim_ed25519_selector",
    "dkim_ed25519_key",
)


def test_signatures_from_the_processes_verify_and_a_dead_child_means_signing_here(keys):  # noqa: F811
    folder, records = keys
    signer = signer_from_settings(dkim_settings(folder))
    with signing_processes(None, 2) as running:
        assert not running
    with signing_processes(signer, 0) as running:
        assert not running
    with signing_processes(signer, 2) as running:
        assert running
        children = list(dkim._pool.free.queue)
        assert verify_all(signer.sign(message(1).as_bytes()), records) == [True, True]
        with pytest.raises(ValueError, match="without From"):
            signer.sign(b"To: a@example.com\r\n\r\nbody\r\n")  # the child's refusal, raised here
        for child in children:
            child.kill()
            child.wait()
        assert verify_all(signer.sign(message(2).as_bytes()), records) == [True, True]
        assert dkim._pool.alive == 0  # both found dead; that message was signed in this thread
    assert dkim._pool is None
    assert all(child.returncode is not None for child in children)


def test_a_large_send_signs_in_processes_and_every_message_verifies(
    db,
    settings,
    now,
    approved_digest,
    smtp_server,
    keys,  # noqa: F811
    caplog,
):
    _, records = keys
    add_subscribers(db, now, 500)  # engine.SIGNING_PROCESSES_FROM: the smallest that uses them
    with caplog.at_level(logging.INFO, logger="mailer.delivery.dkim_pool"):
        report = send_now(db, settings, approved_digest, time_budget=120)
    assert report.done and report.sent == 500
    assert "DKIM signing in 2 processes" in caplog.text
    assert dkim._pool is None
    for received in smtp_server.messages[::50]:
        raw = received.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert verify_all(raw, records) == [True, True]
