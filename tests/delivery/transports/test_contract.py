"""Every backend keeps the whole Transport contract the engine and Services rely on."""

import pytest

from mailer.delivery.transports import BACKENDS, transport_from_dsn
from mailer.delivery.transports.base import Transport
from mailer.services import build

DSNS = {
    "file": "file:///tmp/mailer-contract-outbox",
    "console": "console://",
    "smtp": "smtp://user:pw@mail.example.com:587",
    "smtps": "smtps://user:pw@mail.example.com:465",
    "sendgrid": "sendgrid://key@default",
    "mailgun": "mailgun://key:mg.example.com@default",
    "postmark": "postmark://token@default",
    "ses": "ses://id:secret@default?region=us-east-1",
    "resend": "resend://key@default",
}


def test_every_scheme_is_covered():
    assert set(DSNS) == set(BACKENDS)


@pytest.mark.parametrize("scheme", sorted(DSNS))
def test_each_backend_declares_what_the_engine_reads(scheme):
    transport = transport_from_dsn(DSNS[scheme])
    try:
        assert isinstance(transport, Transport)
        assert isinstance(transport.max_batch, int) and transport.max_batch >= 1
        for flag in ("per_message", "idempotent", "holds_connection"):
            assert isinstance(getattr(transport, flag), bool), flag
    finally:
        transport.close()


def test_only_smtp_holds_a_connection():
    holding = set()
    for scheme, dsn in DSNS.items():
        transport = transport_from_dsn(dsn)
        if transport.holds_connection:
            holding.add(scheme)
        transport.close()
    assert holding == {"smtp", "smtps"}


def test_workers_share_a_stateless_transport_but_each_gets_its_own_connection(settings):
    import dataclasses

    shared = transport_from_dsn(settings.transport)
    services = build(settings, transport=shared)
    try:
        assert services.new_transport() is shared and services.transport is shared
    finally:
        services.close()
    smtp_settings = dataclasses.replace(settings, transport="smtp://mail.example.com:587")
    handed = transport_from_dsn(smtp_settings.transport)
    services = build(smtp_settings, transport=handed)
    try:
        first, second = services.new_transport(), services.new_transport()
        assert first is not handed and second is not first
        assert first.holds_connection and second.holds_connection
    finally:
        services.close()
