"""Provider click and open webhooks land in the same counts as our own redirect."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailer.core.models import Delivery, DigestItem, DigestRelated, ReaderClick
from mailer.delivery import ledger
from mailer.editions.clicks.counts import digest_clicks
from tests.fixtures import webhook_payloads as p
from tests.fixtures.mailing import add_subscribers
from tests.fixtures.webhooks import (
    basic_auth,
    mailgun_signature,
    sns_headers,
    svix_headers,
    webhook_settings,
)

READER = "reader0@example.com"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
OUR_MESSAGE_ID = "<digest-1-42@example.com>"  # what SES echoes in commonHeaders (payloads)
PROVIDER_IDS = {
    "sendgrid": None,  # SendGrid echoes our Message-ID as smtp-id
    "mailgun": "20261125120000.1.ABCDEF@mg.example.com",
    "postmark": "883953f4-6105-42a2-a16a-77a8eac79483",
    "resend": "56761188-7520-42d8-8898-ff6fc54ce618",
    "ses": None,
}


@pytest.fixture
def click_mode():
    """Provider events are counted whatever MAILER_CLICK_TRACKING says (in aggregate)."""
    return "off"


@pytest.fixture
def settings_overrides(sendgrid_signer, click_mode):
    return {**webhook_settings(sendgrid_signer.public_key), "click_tracking": click_mode}


@pytest.fixture
def delivered(db, now, approved_digest):
    """The digest handed to one reader an hour ago; its first story's and related link's URLs."""
    add_subscribers(db, now, 1)
    ledger.materialise(db, approved_digest, now)
    an_hour_ago = now - timedelta(hours=1)
    with db.session() as session:
        session.execute(
            update(Delivery).values(
                status="sent", handed_at=an_hour_ago, sent_at=an_hour_ago, message_id=OUR_MESSAGE_ID
            )
        )
        story = session.scalars(select(DigestItem).order_by(DigestItem.position)).first()
        related = session.scalars(select(DigestRelated).order_by(DigestRelated.id)).first()
        return {
            "digest": approved_digest,
            "story": (story.id, story.url),
            "related": (related.id, related.url),
        }


def with_utm(url: str) -> str:
    """A stored URL as it appears in the mail: tagged for the site's analytics."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}utm_source=newsletter&utm_medium=email&utm_campaign=digest-2026-W48"


def post(client, provider, kind, at, link="", agent=BROWSER, signers=None):
    """One click or open event from `provider`, signed as that provider signs."""
    if provider == "sendgrid":
        extra = {"smtp-id": OUR_MESSAGE_ID, "useragent": agent, "ip": "198.51.100.10"}
        if kind == "click":
            extra["url"] = link
        body = p.sendgrid_body(p.sendgrid_event(kind, READER, at, **extra))
        headers = signers["sendgrid"].headers(body, signers["now"])
    elif provider == "mailgun":
        event = {"click": "clicked", "open": "opened"}[kind]
        body = p.mailgun_body(
            mailgun_signature(signers["now"]),
            event,
            READER,
            at,
            url=link,
            **{"client-info": {"client-type": "browser", "user-agent": agent}},
        )
        headers = {"Content-Type": "application/json"}
    elif provider == "postmark":
        body = p.postmark_engagement(kind.title(), READER, at, link, agent)
        headers = basic_auth()
    elif provider == "resend":
        body = p.resend_engagement(f"email.{kind}ed", READER, at, link, agent)
        headers = svix_headers(body, signers["now"], f"msg_{secrets.token_hex(8)}")
    else:
        note = p.ses_engagement(kind.title(), READER, at, link, agent)
        message = signers["sns"].notification(note, signers["now"])
        body, headers = json.dumps(message), sns_headers(message)
    response = client.post(f"/webhooks/{provider}", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


@pytest.fixture
def signers(sendgrid_signer, sns_signer, now):
    return {"sendgrid": sendgrid_signer, "sns": sns_signer, "now": now}


def use_provider_id(db, provider):
    with db.session() as session:
        session.execute(update(Delivery).values(provider_id=PROVIDER_IDS[provider]))


@pytest.mark.parametrize("provider", list(PROVIDER_IDS))
def test_each_providers_click_and_open_count_against_the_digest_link(
    client, db, now, delivered, signers, provider
):
    use_provider_id(db, provider)
    story_id, story_url = delivered["story"]
    related_id, related_url = delivered["related"]
    post(client, provider, "click", now, with_utm(story_url), signers=signers)
    post(client, provider, "click", now, related_url, signers=signers)
    post(client, provider, "open", now, signers=signers)
    totals = digest_clicks(db, delivered["digest"])
    assert {key: link.clicks for key, link in totals.items()} == {
        ("story", story_id): 1,
        ("related", related_id): 1,
        ("open", 0): 1,
    }


def test_provider_clicks_by_scanners_or_just_after_delivery_are_kept_apart(
    client, db, now, delivered, signers
):
    story_url = delivered["story"][1]
    handed = now - timedelta(hours=1)
    post(client, "sendgrid", "click", now, story_url, agent="Mimecast URL Protect", signers=signers)
    post(client, "sendgrid", "click", handed + timedelta(seconds=3), story_url, signers=signers)
    post(client, "sendgrid", "click", now, story_url, signers=signers)
    [link] = digest_clicks(db, delivered["digest"]).values()
    assert link.clicks == 1
    assert (link.machine["machine_agent"], link.machine["machine_early"]) == (1, 1)


def test_a_provider_click_on_our_own_redirect_or_a_foreign_link_is_not_counted_twice(
    client, db, now, delivered, signers
):
    post(client, "sendgrid", "click", now, "http://localhost/r/abc.def", signers=signers)
    post(client, "sendgrid", "click", now, "https://elsewhere.example/", signers=signers)
    assert digest_clicks(db, delivered["digest"]) == {}


@pytest.mark.parametrize("click_mode", ["per_reader"])
def test_in_per_reader_mode_a_provider_click_is_also_kept_per_reader(
    client, db, now, delivered, signers
):
    story_id, story_url = delivered["story"]
    post(client, "sendgrid", "click", now, story_url, signers=signers)
    with db.session() as session:
        [row] = session.scalars(select(ReaderClick)).all()
        assert (row.kind, row.item_id, row.clicks) == ("story", story_id, 1)


def test_in_aggregate_modes_no_reader_is_recorded(client, db, now, delivered, signers):
    post(client, "sendgrid", "click", now, delivered["story"][1], signers=signers)
    with db.session() as session:
        assert session.scalars(select(ReaderClick)).all() == []
    assert sum(link.clicks for link in digest_clicks(db, delivered["digest"]).values()) == 1
