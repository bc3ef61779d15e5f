"""What counting costs a click: the /r/ redirect with its count, against the same redirect
whose token is never counted (a preview link), in the same process on the same database.

Both paths verify the signed token and answer 302; the counted one also classifies the click
and stores it (one upsert into click_counts, after the response). Runs on SQLite, or on the
database in BENCH_DATABASE_URL. Run: python bench/clicks.py   (prints one JSON line at the end)
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402

from mailer.content.demo import load_demo  # noqa: E402
from mailer.core.config import Settings  # noqa: E402
from mailer.core.db import upgrade  # noqa: E402
from mailer.core.models import ClickCount, Digest  # noqa: E402
from mailer.editions.digests import build_digest, find_digest  # noqa: E402
from mailer.editions.render import render_digest  # noqa: E402
from mailer.services import build  # noqa: E402
from mailer.web import init_app  # noqa: E402

CLICKS = int(os.environ.get("BENCH_CLICKS", "2000"))
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECRET = "bench-secret-key-that-is-long-enough-0123456789-abcdef"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
LINK = re.compile(r'href="https://mail\.example\.com(/r/[^"]+)"')


def links(svc, digest_id: int, status: str) -> list[str]:
    """The issue's click links as rendered while the digest has `status`."""
    with svc.db.session() as session:
        session.execute(update(Digest).where(Digest.id == digest_id).values(status=status))
    return list(
        dict.fromkeys(
            LINK.findall(render_digest(find_digest(svc.db, digest_id), svc.settings).html)
        )
    )


def run(client, paths: list[str]) -> float:
    """Seconds for CLICKS clicks spread over the links, each from its own client address."""
    start = time.perf_counter()
    for i in range(CLICKS):
        address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        with client.get(
            paths[i % len(paths)],
            headers={"User-Agent": BROWSER},
            environ_base={"REMOTE_ADDR": address},
        ) as response:
            assert response.status_code == 302
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env(
            {},
            instance_dir=str(Path(folder) / "instance"),
            database_url=os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{folder}/bench.db"),
            secret_key=SECRET,
            base_url="https://mail.example.com",
            click_tracking="aggregate",
        )
        svc = build(settings, clock=lambda: NOW)
        upgrade(svc.db)
        load_demo(svc.db, NOW, settings.zone)
        digest_id = build_digest(svc.db, settings, NOW).digest_id
        uncounted, counted = links(svc, digest_id, "approved"), links(svc, digest_id, "sending")
        client = init_app(svc).test_client()
        run(client, uncounted[:1])  # warm up: templates, connections
        bare = run(client, uncounted)
        with_count = run(client, counted)
        with svc.db.session() as session:
            stored = session.scalar(select(func.sum(ClickCount.clicks)))
            rows = session.scalar(select(func.count()).select_from(ClickCount))
        svc.close()
    result = {
        "database": settings.effective_database_url.split(":", 1)[0],
        "clicks": CLICKS,
        "links": len(counted),
        "redirect_ms": round(bare / CLICKS * 1000, 3),
        "redirect_and_count_ms": round(with_count / CLICKS * 1000, 3),
        "ratio": round(bare / with_count, 3),  # 1.0 would mean counting costs nothing
        "counted": stored,
        "rows": rows,  # one per link and day, however many clicks
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
