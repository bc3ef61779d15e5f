"""How alike a signup's work is for a new, a subscribed and a suppressed address (finding 7).

Runs subscriptions.subscribe on a SQLite file for each state, interleaved, and prints one JSON
line: the median milliseconds per state and the ratio of the slowest to the fastest (goal:
close to 1.0). Before every state took the same statements it was 5.6 to 9.6 on our shared
2-core machine (new 6.5-10.7 ms, confirmed 2.0, suppressed 1.1); after, 1.2 to 1.4: what is
left is the database writing real rows for a new address and none for the others.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailer.core.config import Settings  # noqa: E402
from mailer.core.db import Database, upgrade  # noqa: E402
from mailer.readers import links, subscriptions  # noqa: E402
from mailer.readers.suppressions import suppress  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))


def main() -> None:
    workdir = tempfile.mkdtemp()
    settings = Settings.from_env(
        {},
        instance_dir=workdir,
        database_url=f"sqlite:///{workdir}/bench.db",
        secret_key="bench-" * 8,
        transport=f"file://{workdir}/outbox",
    )
    db = Database(settings.effective_database_url)
    upgrade(db)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    sid = subscriptions.subscribe(db, settings, subscriptions.Signup("old@example.com"), now)
    with db.session() as session:
        from mailer.core.models import Subscriber

        nonce = session.get(Subscriber, sid.subscriber_id).token_nonce
        suppress(session, "gone@example.com", "complaint", now)
    token = links.confirm_url(settings, sid.subscriber_id, nonce, now).rsplit("/", 1)[1]
    subscriptions.confirm(db, settings, token, None, now)
    times: dict[str, list[float]] = {"new": [], "confirmed": [], "suppressed": []}
    later = now + timedelta(hours=1)
    for n in range(ROUNDS):
        for state, address in (
            ("new", f"new{n}@example.com"),
            ("confirmed", "old@example.com"),
            ("suppressed", "gone@example.com"),
        ):
            start = time.perf_counter()
            subscriptions.subscribe(db, settings, subscriptions.Signup(address), later)
            times[state].append((time.perf_counter() - start) * 1000)
    medians = {state: round(statistics.median(ms), 3) for state, ms in times.items()}
    ratio = max(medians.values()) / min(medians.values())
    print(json.dumps({"median_ms": medians, "slowest_over_fastest": round(ratio, 2)}))


if __name__ == "__main__":
    main()
