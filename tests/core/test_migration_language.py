"""0012_reader_language: a database made at 0009 with readers in it migrates with no action,
and its readers get the default language."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from mailer.core.db import Database, upgrade


def test_readers_stored_before_languages_keep_their_rows_and_get_none(database_url):
    db = Database(database_url)
    try:
        upgrade(db, "0009_clicks")
        now = datetime(2026, 11, 30, 9, tzinfo=UTC)
        with db.session() as session:
            session.execute(
                text(
                    "INSERT INTO subscribers (email, email_hash, first_name, status, paused, "
                    "token_nonce, origin, soft_bounces, created_at, updated_at) VALUES "
                    "('old@example.com', 'h1', 'Ann', 'confirmed', false, 'n1', 'form', 0, :t, :t)"
                ),
                {"t": now},
            )
        upgrade(db)
        with db.session() as session:
            row = session.execute(
                text("SELECT email, first_name, status, language FROM subscribers")
            ).one()
        assert tuple(row) == ("old@example.com", "Ann", "confirmed", None)
    finally:
        db.dispose()
