"""Each newsletter has its own archive and feed; /archive and /archive.atom stay the default's."""

import xml.etree.ElementTree as ET

import feedparser
import pytest

from mailer.content.demo import load_demo
from mailer.core.models import Digest
from mailer.editions import digests
from mailer.readers import newsletters

BASE = "https://letters.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def settings_overrides():
    return {"base_url": BASE}


def sent(db, digest_id: int, now) -> Digest:
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        digest.status, digest.sent_at = "sent", now
    return digests.find_digest(db, digest_id)


def test_a_newsletter_has_its_own_archive_feed_and_issue_pages(client, db, settings, now):
    load_demo(db, now, settings.zone, settings.base_url)
    newsletters.add(db, now, slug="daily", name="Daily Brief", cadence="daily")
    weekly = sent(db, digests.build_digest(db, settings, now).digest_id, now)
    daily = sent(db, digests.build_digest(db, settings, now, newsletter="daily").digest_id, now)
    assert daily.period_key == "2026-11-25" and weekly.period_key == "2026-W48"

    own = client.get("/archive/daily/").get_data(as_text=True)
    assert "Past issues of Daily Brief" in own
    assert 'href="/archive/daily/2026-11-25"' in own
    assert "/archive/2026-W48" not in own
    assert f'href="{BASE}/archive/daily/feed.atom"' in own  # feed discovery
    default = client.get("/archive").get_data(as_text=True)
    assert 'href="/archive/2026-W48"' in default and "/daily/" not in default

    feed = client.get("/archive/daily/feed.atom")
    root = ET.fromstring(feed.data)  # noqa: S314 (the app wrote it)
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {
        "self": f"{BASE}/archive/daily/feed.atom",
        "alternate": f"{BASE}/archive/daily",
    }
    [entry] = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == f"{BASE}/archive/daily/2026-11-25"
    assert not feedparser.parse(feed.data).bozo
    [old] = ET.fromstring(client.get("/archive.atom").data).findall(f"{ATOM}entry")  # noqa: S314
    assert old.findtext(f"{ATOM}id") == f"{BASE}/archive/2026-W48"

    assert client.get("/archive/daily/2026-11-25").status_code == 200
    assert client.get("/archive/2026-W48").status_code == 200
    assert client.get("/archive/daily/2026-W48").status_code == 404  # the weekly's, not its own
    assert client.get("/archive/nope/").status_code == 404
    moved = client.get("/archive/daily")
    assert (moved.status_code, moved.location) == (308, "/archive/daily/")
