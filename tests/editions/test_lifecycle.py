"""Every digest transition from every state, through the module, the CLI and the desk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.core.errors import Conflict
from mailer.core.models import AuditEntry, Digest
from mailer.editions import lifecycle
from mailer.editions.digests import find_digest
from tests.fixtures.editors import signed_in, token

ROOT = Path(__file__).resolve().parents[2]


def force_status(db, digest_id: int, status: str) -> None:
    """Put a digest in a state directly: the walk needs every starting state, legal or not."""
    with db.session() as session:
        session.get(Digest, digest_id).status = status


def last_audit(db) -> tuple[str, str] | None:
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        return (entry.actor, entry.action) if entry else None


def call(name: str, db, settings, digest_id: int, now):
    actor = "ed@example.com"
    if name == "approve":
        return lifecycle.approve(db, settings, digest_id, actor, now)
    if name in ("pause", "cancel"):
        return getattr(lifecycle, name)(db, digest_id, actor, now, f"{name} in a test")
    if name == "settle":
        return lifecycle.settle(db, digest_id, now)
    return getattr(lifecycle, name)(db, digest_id, actor, now)


@pytest.mark.parametrize("name", lifecycle.TRANSITIONS)
def test_every_transition_from_every_state(db, settings, now, draft, name):
    for state in lifecycle.STATES:
        walk(name, state, db, settings, now, draft)


def walk(name, state, db, settings, now, draft):
    transition = lifecycle.TRANSITIONS[name]
    force_status(db, draft, state)
    before = last_audit(db)
    if state in transition.sources:
        digest = call(name, db, settings, draft, now)
        assert digest.status == transition.target
        assert find_digest(db, draft).status == transition.target
        actor = "system" if name == "settle" else "ed@example.com"
        assert last_audit(db) == (actor, name)
    elif state in transition.settled:
        assert call(name, db, settings, draft, now).status == state
        assert last_audit(db) == before  # nothing changed, nothing recorded
    else:
        with pytest.raises(Conflict, match=state):
            call(name, db, settings, draft, now)
        assert find_digest(db, draft).status == state
        assert last_audit(db) == before


def test_veto_stops_auto_approval_and_approve_clears_it(db, settings, now, draft):
    assert lifecycle.veto(db, draft, "chief", now).vetoed
    approved = lifecycle.approve(db, settings, draft, "chief", now)
    assert approved.approved_by == "chief" and not approved.vetoed
    assert lifecycle.withdraw(db, draft, "chief", now).approved_by is None


def test_start_from_paused_says_to_resume(db, settings, now, draft):
    lifecycle.approve(db, settings, draft, "ed", now)
    lifecycle.start(db, draft, "ed", now)
    lifecycle.pause(db, draft, "ed", now, "too many bounces")
    with pytest.raises(Conflict, match=r"paused \(too many bounces\); resume it"):
        lifecycle.start(db, draft, "ed", now)


CLI_COMMANDS = {
    "approve": ("digest", "approve"),
    "pause": ("digest", "pause"),
    "resume": ("digest", "resume"),
    "cancel": ("digest", "cancel"),
}


@pytest.mark.parametrize("name", CLI_COMMANDS)
def test_cli_follows_the_lifecycle(cli, db, draft, name):
    for state in lifecycle.STATES:
        cli_walk(cli, db, draft, name, state)


def cli_walk(cli, db, draft, name, state):
    force_status(db, draft, state)
    period = find_digest(db, draft).period_key
    result = cli(*CLI_COMMANDS[name], period)
    transition = lifecycle.TRANSITIONS[name]
    if state in transition.sources:
        assert result.exit_code == 0, result.output
        assert find_digest(db, draft).status == transition.target
    else:
        assert result.exit_code == 1
        assert state in result.output and "Traceback" not in result.output
        assert find_digest(db, draft).status == state


DESK_ACTIONS = {
    "approve": "approve",
    "withdraw": "withdraw",
    "veto": "veto",
    "send_now": "start",
    "pause": "pause",
    "resume": "resume",
    "cancel": "cancel",
}


def test_desk_follows_the_lifecycle(client, db, accounts, draft):
    signed_in(client)
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    for action in DESK_ACTIONS:
        for state in lifecycle.STATES:
            desk_walk(client, db, draft, token(html), action, state)


def desk_walk(client, db, draft, csrf, action, state):
    force_status(db, draft, state)
    response = client.post(
        f"/admin/digests/{draft}/act",
        data={"action": action, "confirm": "yes", "csrf_token": csrf},  # as the confirm page posts
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    transition = lifecycle.TRANSITIONS[DESK_ACTIONS[action]]
    if state in transition.sources:
        assert "Done:" in page
        assert find_digest(db, draft).status == transition.target
    elif state in transition.settled:
        assert find_digest(db, draft).status == state
    else:
        assert re.search(r"Not done:[^<]*" + state, page)
        assert find_digest(db, draft).status == state


def test_architecture_doc_carries_the_transition_table():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert lifecycle.transition_table() in doc, "paste lifecycle.transition_table() into the doc"
