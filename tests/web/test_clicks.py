"""The signed click redirect: it always leads on, counts people, sets machines apart."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.core.models import ClickCount, Digest, DigestItem
from mailer.editions.clicks.counts import digest_clicks
from mailer.editions.clicks.links import click_token, read_click
from tests.fixtures.mailing import add_subscribers, send_now

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari"
LINK = re.compile(r'href="(http://localhost/r/[^"]+)"')


@pytest.fixture
def settings_overrides():
    return {"click_tracking": "aggregate", "send_rate": 1000.0}


def sent_html(settings) -> str:
    """The HTML part of the one digest message the file transport wrote."""
    [path] = Path(settings.transport.removeprefix("file://")).glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return message.get_body(("html",)).get_content()


@pytest.fixture
def sent(db, settings, approved_digest, now):
    """The demo digest sent to one reader; its HTML and its click links in order."""
    add_subscribers(db, now, 1)
    assert send_now(db, settings, approved_digest).sent == 1
    html = sent_html(settings)
    return approved_digest, html, list(dict.fromkeys(LINK.findall(html)))


def click(client, url, agent=BROWSER, ip="203.0.113.7", method="get"):
    """Follow one link as a client would; leaving the block is when the server counts."""
    path = url.removeprefix("http://localhost")
    with getattr(client, method)(
        path, headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ip}
    ) as response:
        return response


def people(db, digest_id) -> dict:
    return {key: link.clicks for key, link in digest_clicks(db, digest_id).items()}


def test_every_article_link_in_the_sent_mail_is_a_signed_redirect_to_the_stored_url(
    client, db, settings, sent
):
    digest_id, html, links = sent
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        stored = {i.url for i in digest.items} | {r.url for i in digest.items for r in i.related}
    assert len(links) == len(stored)
    for url in links:
        target = read_click(settings.secret_key, url.rsplit("/", 1)[-1])
        assert target.digest_id == digest_id and target.counted
        assert target.url.split("?")[0] in stored  # the stored URL, with UTM tags only
        response = click(client, url)
        assert response.status_code == 302
        assert response.headers["Location"] == target.url
    assert "/preferences/" in html  # the reader's own links are untouched
    assert "?r=" not in html  # aggregate: every reader gets the same links


def test_a_reader_click_is_counted_once_per_link_and_day(client, db, sent):
    digest_id, _html, links = sent
    first = read_click_of(db, links[0])
    click(client, links[0], ip="198.51.100.1")
    click(client, links[0], ip="198.51.100.2")
    assert people(db, digest_id) == {first: 2}
    with db.session() as session:
        assert len(session.scalars(select(ClickCount)).all()) == 1  # one row per link and day


def read_click_of(db, url):
    from tests.conftest import TEST_SECRET

    target = read_click(TEST_SECRET, url.rsplit("/", 1)[-1])
    return (target.kind, target.item_id)


def test_a_tampered_token_is_refused_and_never_redirects(client, settings, sent):
    digest_id, _html, links = sent
    token = links[0].rsplit("/", 1)[-1]
    body, _, signature = token.rpartition(".")
    forged = click_token("another-secret", digest_id, "story", 1, "https://evil.example/", True)
    for bad in (body + "." + signature[::-1], forged, "not-a-token"):
        response = click(client, f"/r/{bad}")
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert "damaged" in response.get_data(as_text=True)


def test_a_signed_target_off_its_render_time_host_or_not_http_is_refused(client, settings):
    from mailer.readers.tokens import make_token

    for url, host in (
        ("javascript:alert(1)", ""),
        ("https://evil.example/", "news.example.com"),
        ("https://user:pw@news.example.com/", "news.example.com"),
    ):
        payload = {"d": 1, "k": "s", "i": 1, "u": url, "h": host, "c": 1}
        token = make_token(settings.secret_key, "click", payload)
        assert click(client, f"/r/{token}").status_code == 400


def test_links_never_expire_an_old_issue_still_leads_on(client, db, settings, sent):
    digest_id, _html, links = sent
    later = client.application.extensions["mailer"]
    later.clock = lambda: settings_now_plus_years(3)
    response = click(client, links[0], ip="198.51.100.3")
    assert response.status_code == 302
    assert sum(people(db, digest_id).values()) == 1


def settings_now_plus_years(years: int):
    from datetime import timedelta

    from tests.conftest import FIXED_NOW

    return FIXED_NOW + timedelta(days=365 * years)


def test_head_requests_and_scanner_agents_redirect_but_count_as_machines(client, db, sent):
    digest_id, _html, links = sent
    assert click(client, links[0], method="head").status_code == 302
    for agent in ("", "Barracuda Sentinel (EE)", "python-requests/2.32", "curl/8.5.0"):
        assert click(client, links[0], agent=agent, ip="192.0.2.9").status_code == 302
    [link] = digest_clicks(db, digest_id).values()
    assert link.clicks == 0
    assert (link.machine["machine_head"], link.machine["machine_agent"]) == (1, 4)
    assert link.filtered == 5


def test_many_links_in_one_second_from_one_client_are_a_scanner_even_the_first_ones(
    client, db, sent
):
    digest_id, _html, links = sent
    assert len(links) >= 4
    for url in links[:4]:  # the test clock stands still: all within one second
        assert click(client, url, ip="192.0.2.50").status_code == 302
    click(client, links[0], ip="198.51.100.77")  # a reader elsewhere is still counted
    totals = digest_clicks(db, digest_id)
    assert sum(t.clicks for t in totals.values()) == 1
    assert sum(t.machine["machine_burst"] for t in totals.values()) == 4


def test_a_database_that_is_gone_still_redirects(client, db, settings, sent, backend, caplog):
    from mailer.core.db import Database

    _digest_id, _html, links = sent
    svc = client.application.extensions["mailer"]
    svc.db.dispose()
    if backend == "sqlite":  # the file is removed: what opens in its place has no tables
        for path in Path(settings.database_url.removeprefix("sqlite:///")).parent.glob(
            "mailer.db*"
        ):
            path.unlink()
    else:
        svc.db = Database(settings.database_url.rsplit("/", 1)[0] + "/no_such_database")
    response = click(client, links[0])
    assert response.status_code == 302
    assert (
        response.headers["Location"]
        == read_click(settings.secret_key, links[0].rsplit("/", 1)[-1]).url
    )
    assert "not counted" in caplog.text  # the count was tried after the redirect, and lost


def test_previews_and_test_sends_carry_links_that_lead_on_but_never_count(
    client, db, settings, approved_digest
):
    from mailer.editions.render import render_digest

    with db.session() as session:
        digest = session.get(Digest, approved_digest)
    [url, *_] = LINK.findall(render_digest(digest, settings).html)
    assert not read_click(settings.secret_key, url.rsplit("/", 1)[-1]).counted
    assert click(client, url).status_code == 302
    assert people(db, approved_digest) == {}


def test_the_archive_web_version_links_straight_to_the_site(client, db, sent):
    digest_id, _html, _links = sent
    with db.session() as session:
        period = session.get(Digest, digest_id).period_key
        first = session.scalars(select(DigestItem.url).where(DigestItem.position == 0)).first()
    page = client.get(f"/archive/{period}").get_data(as_text=True)
    assert "/r/" not in page
    assert first.split("?")[0] in page


@pytest.mark.parametrize("settings_overrides", [{"send_rate": 1000.0}])
def test_with_click_tracking_off_the_mail_links_straight_to_the_articles(db, settings, sent):
    _digest_id, html, links = sent
    assert settings.click_tracking == "off"
    assert links == [] and "/r/" not in html
    assert "utm_source=newsletter" in html


def test_the_desk_shows_clicks_and_click_rate_per_story_and_related_link(client, db, now, sent):
    from tests.web.test_hooks_delivery import desk_page

    digest_id, _html, links = sent
    targets = [read_click_of(db, url) for url in links]
    story = next(t for t in targets if t[0] == "story")
    related = next(t for t in targets if t[0] == "related")
    story_url = links[targets.index(story)]
    click(client, story_url, ip="198.51.100.1")
    click(client, story_url, ip="198.51.100.2")
    click(client, links[targets.index(related)], ip="198.51.100.3")
    click(client, story_url, agent="Proofpoint URL Defense", ip="192.0.2.1")
    page = desk_page(client, db, now, digest_id)
    row = re.search(rf'id="clicks-story-{story[1]}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert [c.strip() for c in cells[1:]] == ["2", "200.0%", "1"]  # 2 clicks, 1 message sent
    row = re.search(rf'id="clicks-related-{related[1]}">(.*?)</tr>', page, re.S).group(1)
    assert "↳" in row and "<td>1</td>" in row
    assert "3 clicks by readers on 1 message sent" in page
    assert "scanner agents: 1" in page
