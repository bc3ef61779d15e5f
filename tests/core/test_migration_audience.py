"""0013_audience on a database made at 0009 with rows in it: no action needed, nothing lost."""

from sqlalchemy import text

from mailer.core.db import Database, upgrade


def test_a_database_at_0009_with_rows_upgrades_without_action(database_url):
    db = Database(database_url)
    upgrade(db, "0009_clicks")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (email, email_hash, status, paused, token_nonce, origin,"
                " soft_bounces, created_at, updated_at) VALUES ('a@example.com', :h, 'confirmed',"
                " false, 'n', 'form', 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
            ),
            {"h": "a" * 64},
        )
        conn.execute(
            text(
                "INSERT INTO digests (period_key, status, subject, preheader, intro, vetoed,"
                " created_at, updated_at) VALUES ('2026-W44', 'sent', 's', '', '', false,"
                " '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
            )
        )
    upgrade(db)
    with db.engine.connect() as conn:
        digest = conn.execute(text("SELECT period_key, segment_id FROM digests")).one()
        readers = conn.execute(text("SELECT count(*) FROM subscribers")).scalar()
        sunsets = conn.execute(text("SELECT count(*) FROM reader_sunsets")).scalar()
        segments = conn.execute(text("SELECT count(*) FROM segments")).scalar()
    assert tuple(digest) == ("2026-W44", None)
    assert (readers, sunsets, segments) == (1, 0, 0)
    db.dispose()
