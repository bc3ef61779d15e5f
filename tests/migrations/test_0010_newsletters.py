"""A single-list database made at 0009, with readers, issues and sends in it, migrates with no
action: one default newsletter holding every reader, every issue its own, nothing lost."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mailer.core.db import Database, upgrade
from mailer.core.models import UTCDateTime
from mailer.delivery import ledger

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _table(name: str, *columns: str, times: tuple[str, ...] = ()) -> sa.TableClause:
    return sa.table(
        name, *(sa.column(c) for c in columns), *(sa.column(t, UTCDateTime()) for t in times)
    )


def _fill_at_0009(db: Database) -> None:
    """Rows as a single-list install keeps them, written with 0009's columns."""
    subscribers = _table(
        "subscribers",
        "id",
        "email",
        "email_hash",
        "status",
        "paused",
        "token_nonce",
        "origin",
        "soft_bounces",
        times=("created_at", "updated_at", "confirmed_at", "unsubscribed_at"),
    )
    people = [("confirmed", NOW, None), ("unsubscribed", NOW, NOW), ("pending", None, None)]
    digests = _table(
        "digests",
        "id",
        "period_key",
        "status",
        "subject",
        "preheader",
        "intro",
        "vetoed",
        times=("created_at", "updated_at"),
    )
    items = _table(
        "digest_items", "id", "digest_id", "position", "pinned", "score", "title", "url",
        "excerpt", times=("published_at",),
    )  # fmt: skip
    deliveries = _table(
        "deliveries", "digest_id", "subscriber_id", "status", "attempts",
        times=("created_at", "updated_at"),
    )  # fmt: skip
    with db.session() as session:
        session.execute(
            subscribers.insert(),
            [
                {
                    "id": i + 1,
                    "email": f"r{i}@example.com",
                    "email_hash": f"{i}" * 64,
                    "status": status,
                    "paused": False,
                    "token_nonce": "n",
                    "origin": "form",
                    "soft_bounces": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "confirmed_at": confirmed,
                    "unsubscribed_at": left,
                }
                for i, (status, confirmed, left) in enumerate(people)
            ],
        )
        session.execute(
            digests.insert(),
            [
                {
                    "id": n,
                    "period_key": f"2026-W4{n}",
                    "status": "sent" if n == 1 else "approved",
                    "subject": "S",
                    "preheader": "",
                    "intro": "",
                    "vetoed": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in (1, 2)
            ],
        )
        session.execute(
            items.insert(),
            [
                {
                    "id": n,
                    "digest_id": n,
                    "position": 0,
                    "pinned": False,
                    "score": 1.0,
                    "title": "T",
                    "url": f"https://example.com/{n}",
                    "excerpt": "",
                    "published_at": NOW,
                }
                for n in (1, 2)
            ],
        )
        session.execute(
            deliveries.insert(),
            [
                {
                    "digest_id": 1,
                    "subscriber_id": 1,
                    "status": "sent",
                    "attempts": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )


def test_a_single_list_database_migrates_into_one_default_newsletter(database_url, monkeypatch):
    monkeypatch.setenv("MAILER_LIST_NAME", "Morning Brief")
    db = Database(database_url)
    upgrade(db, "0009_clicks")
    _fill_at_0009(db)
    upgrade(db)
    with db.session() as session:
        q = session.execute
        [(nid, slug, name, default)] = q(
            sa.text("SELECT id, slug, name, is_default FROM newsletters")
        ).all()
        assert (slug, name, bool(default)) == ("weekly", "Morning Brief", True)
        taken = dict(
            q(
                sa.text(
                    "SELECT subscriber_id, status FROM newsletter_subscriptions "
                    "WHERE newsletter_id = :n"
                ),
                {"n": nid},
            ).all()
        )
        assert taken == {1: "active", 2: "unsubscribed", 3: "active"}
        owners = q(sa.text("SELECT newsletter_id FROM digests ORDER BY id")).scalars().all()
        assert owners == [nid, nid]
        # the table rebuild kept every row that points at an issue
        assert q(sa.text("SELECT count(*) FROM digest_items")).scalar() == 2
        assert q(sa.text("SELECT count(*) FROM deliveries")).scalar() == 1
        assert q(sa.text("PRAGMA foreign_keys")).scalar() == 1 if db.dialect == "sqlite" else True
        q(
            sa.text(
                "INSERT INTO newsletters (slug, name, description, topics, cadence, is_default,"
                " created_at, updated_at) VALUES ('daily', 'Daily', '', '', 'daily', :no, :t, :t)"
            ),
            {"no": False, "t": NOW},
        )
    # the same week in another newsletter is a new issue; in the same one, a duplicate
    insert = (
        "INSERT INTO digests (id, newsletter_id, period_key, status, subject, preheader,"
        " intro, vetoed, created_at, updated_at) SELECT :id, id, '2026-W41', 'draft', '', '', '',"
        " :no, :t, :t FROM newsletters WHERE slug = :slug"
    )  # ids given: rows written with ids leave PostgreSQL's sequence behind
    with db.session() as session:
        session.execute(sa.text(insert), {"id": 10, "no": False, "t": NOW, "slug": "daily"})
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(sa.text(insert), {"id": 11, "no": False, "t": NOW, "slug": "weekly"})
    # the approved issue goes to the confirmed reader alone, as before the migration
    assert ledger.materialise(db, 2, NOW) == 1
    db.dispose()
