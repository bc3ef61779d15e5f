"""A digest goes out once rendered per language: each reader's message in their language,
through the real SMTP transport."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.core.models import Subscriber
from tests.fixtures.mailing import add_subscribers, send_now


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0, "retry_base_seconds": 0.05}


def test_each_reader_gets_the_digest_in_their_language(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 3)
    with db.session() as session:
        readers = session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
        readers[1].language = "de"
        readers[2].language = "fr"  # no longer offered: the default language
    assert send_now(db, settings, approved_digest).done
    mails = {str(m.message["To"]): m.message for m in smtp_server.wait_for(3)}
    german = mails["reader1@example.com"].get_body(("plain",)).get_content()
    english = mails["reader0@example.com"].get_body(("plain",)).get_content()
    assert "Hallo ReaderB," in german and "Woche vom Montag," in german
    assert "Mit einem Klick abbestellen:" in german and "Mehr zum Thema:" in german
    assert "Hello ReaderA," in english and "Week of Monday" in english
    html = mails["reader1@example.com"].get_body(("html",)).get_content()
    assert '<html lang="de"' in html and "Im Browser ansehen" in html
    fallback = mails["reader2@example.com"].get_body(("plain",)).get_content()
    assert "Hello ReaderC," in fallback
