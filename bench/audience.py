"""What a segment's count and sunsetting's preview cost against the plain count of readers, on
one roster in the same run: BENCH_READERS readers (20,000) sent 10 issues, a tenth of them
clicking in each.

The plain count is what the desk showed before segments; the click rule and the sunset preview
add per-reader lookups of clicks and deliveries, so their ratio to it is the figure to watch.
Runs on SQLite, or on the (empty) database in BENCH_DATABASE_URL, analysed after loading.
Run: python bench/audience.py   (prints one JSON line at the end)
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from mailer.core.config import Settings  # noqa: E402
from mailer.core.db import Database, upgrade  # noqa: E402
from mailer.core.models import Delivery, Digest, ReaderClick, Subscriber  # noqa: E402
from mailer.delivery.ledger import reader_count  # noqa: E402
from mailer.readers import sunset  # noqa: E402

READERS = int(os.environ.get("BENCH_READERS", "20000"))
ISSUES = 10
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def load(db: Database) -> None:
    rng = random.Random(7)
    with db.session() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"r{i}@example.test",
                    "email_hash": f"{i:064x}",
                    "status": "confirmed",
                    "paused": False,
                    "token_nonce": "n",
                    "origin": "form",
                    "soft_bounces": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(READERS)
            ],
        )
        for k in range(ISSUES):
            at = NOW - timedelta(days=7 * (ISSUES - k))
            digest = Digest(
                period_key=f"2026-W{k + 1:02d}",
                status="sent",
                created_at=at,
                updated_at=at,
                sent_at=at,
            )
            session.add(digest)
            session.flush()
            session.execute(
                insert(Delivery),
                [
                    {
                        "digest_id": digest.id,
                        "subscriber_id": i + 1,
                        "status": "sent",
                        "attempts": 1,
                        "created_at": at,
                        "updated_at": at,
                        "sent_at": at,
                    }
                    for i in range(READERS)
                ],
            )
            clicked = at + timedelta(hours=1)
            session.execute(
                insert(ReaderClick),
                [
                    {
                        "digest_id": digest.id,
                        "kind": "story",
                        "item_id": 1,
                        "subscriber_id": i + 1,
                        "clicks": 1,
                        "first_at": clicked,
                        "last_at": clicked,
                    }
                    for i in rng.sample(range(READERS), READERS // 10)
                ],
            )
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        upgrade(db)
        load(db)
        settings = Settings.from_env(
            {}, database_url=url, click_tracking="per_reader", sunset=True, instance_dir=tmp
        )
        plain, everyone = timed(lambda: reader_count(db))
        rule, clicked = timed(lambda: reader_count(db, {"clicked_in_last_n_issues": 4}))
        preview, counts = timed(lambda: sunset.preview(db, settings))
        db.dispose()
    result = {
        "database": db.dialect,
        "readers": READERS,
        "issues": ISSUES,
        "plain_count_s": round(plain, 4),
        "clicked_in_4_count_s": round(rule, 4),
        "sunset_preview_s": round(preview, 4),
        "clicked_rule_ratio": round(rule / plain, 1),
        "sunset_preview_ratio": round(preview / plain, 1),
        "counts": {"everyone": everyone, "clicked_in_4": clicked, "to_mail": counts.mail},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
