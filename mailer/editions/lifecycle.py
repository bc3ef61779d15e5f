"""Every digest state change in one place: each transition owns its starting states, lock and audit.

The web desk, the CLI, the scheduler and the send engine call these functions and nothing else
changes `Digest.status` after a build, so the rules below are the whole lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import Conflict
from mailer.core.models import Digest
from mailer.editions.audit import audit
from mailer.editions.digests import get_digest
from mailer.editions.render import check_size

# Built by `build_digest` (draft) or `record_skipped` (skipped); the transitions take it from there.
STATES = ("draft", "skipped", "approved", "sending", "paused", "sent", "cancelled")


@dataclass(frozen=True)
class Transition:
    """One named change: the states it may start from, the state it leaves, what it means."""

    name: str
    sources: tuple[str, ...]
    target: str
    meaning: str
    # starting states that are already where the transition leads: answered without a change
    settled: tuple[str, ...] = ()
    refusal: str = ""  # how a refusal reads; {key}, {status} and {reason} are filled in
    # a refusal from one particular state that deserves its own advice
    advice: tuple[tuple[str, str], ...] = ()


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "approve",
            ("draft",),
            "approved",
            "an editor (or auto-approve) releases a draft for sending",
            refusal="{key} is {status}, not a draft.",
        ),
        Transition(
            "withdraw",
            ("draft", "approved"),
            "draft",
            "an editor takes approval back before sending starts",
            refusal="{key} is {status}; it can no longer be withdrawn.",
        ),
        Transition(
            "veto",
            ("draft", "approved"),
            "draft",
            "like withdraw, and auto-approve will not release it again",
            refusal="{key} is {status}; it can no longer be withdrawn.",
        ),
        Transition(
            "start",
            ("approved",),
            "sending",
            "the schedule, an editor's send now, or `digest send` begins delivery",
            settled=("sending",),
            refusal="{key} is {status}; only an approved digest can be sent.",
            advice=(("paused", "{key} is paused ({reason}); resume it."),),
        ),
        Transition(
            "pause",
            ("sending",),
            "paused",
            "an editor, an operator, the engine after repeated failures, or the guardrails "
            "(complaint or hard-bounce rate) stop a send",
        ),
        Transition("resume", ("paused",), "sending", "a paused send may go on"),
        Transition(
            "cancel",
            ("draft", "approved", "sending", "paused"),
            "cancelled",
            "nothing more of this digest is sent",
        ),
        Transition(
            "settle", ("sending",), "sent", "the engine saw every delivery reach an end state"
        ),
        Transition(
            "reopen",
            ("sent",),
            "sending",
            "`digest retry` queued failed or unknown deliveries again",
            settled=("draft", "skipped", "approved", "sending", "paused", "cancelled"),
        ),
    )
}


def allowed(name: str, status: str) -> bool:
    """Whether `name` may start from `status` (used by pages to offer only what would work)."""
    transition = TRANSITIONS[name]
    return status in transition.sources


def _apply(
    db: Database,
    name: str,
    ref: str | int,
    actor: str,
    now: datetime,
    reason: str | None = None,
    check: Callable[[Digest], None] | None = None,
    change: Callable[[Digest], None] | None = None,
) -> Digest:
    transition = TRANSITIONS[name]
    with db.session() as session:
        digest = get_digest(session, ref, lock=True)
        if digest.status in transition.settled:
            return digest
        if digest.status not in transition.sources:
            template = dict(transition.advice).get(digest.status) or transition.refusal
            needs = f"{name} needs one of: {', '.join(transition.sources)}."
            template = template or "{key} is {status}; " + needs
            raise Conflict(
                template.format(
                    key=digest.period_key, status=digest.status, reason=digest.status_reason
                )
            )
        if check is not None:
            check(digest)
        digest.status, digest.status_reason, digest.updated_at = transition.target, reason, now
        if change is not None:
            change(digest)
        audit(session, actor, name, digest, now, {"reason": reason} if reason else {})
        session.flush()
        return digest


def approve(db: Database, settings: Settings, ref: str | int, actor: str, now: datetime) -> Digest:
    """Refused for an empty digest and one that mail clients would clip."""

    def check(digest: Digest) -> None:
        if not digest.items:
            raise Conflict("an empty digest cannot be approved.")
        check_size(digest, settings)

    def change(digest: Digest) -> None:
        digest.approved_at, digest.approved_by, digest.vetoed = now, actor, False

    return _apply(db, "approve", ref, actor, now, check=check, change=change)


def withdraw(db: Database, ref: str | int, actor: str, now: datetime) -> Digest:
    return _apply(db, "withdraw", ref, actor, now, change=_unapprove)


def veto(db: Database, ref: str | int, actor: str, now: datetime) -> Digest:
    def change(digest: Digest) -> None:
        _unapprove(digest)
        digest.vetoed = True

    return _apply(db, "veto", ref, actor, now, change=change)


def _unapprove(digest: Digest) -> None:
    digest.approved_at, digest.approved_by = None, None


def start(db: Database, ref: str | int, actor: str, now: datetime) -> Digest:
    """Idempotent: starting a digest that is already sending changes nothing."""

    def change(digest: Digest) -> None:
        digest.send_started_at = now

    return _apply(db, "start", ref, actor, now, change=change)


def pause(db: Database, ref: str | int, actor: str, now: datetime, reason: str) -> Digest:
    return _apply(db, "pause", ref, actor, now, reason)


def resume(db: Database, ref: str | int, actor: str, now: datetime) -> Digest:
    return _apply(db, "resume", ref, actor, now)


def cancel(db: Database, ref: str | int, actor: str, now: datetime, reason: str) -> Digest:
    return _apply(db, "cancel", ref, actor, now, reason)


def settle(db: Database, ref: str | int, now: datetime) -> Digest:
    def change(digest: Digest) -> None:
        digest.sent_at = now

    return _apply(db, "settle", ref, "system", now, change=change)


def reopen(db: Database, ref: str | int, actor: str, now: datetime) -> Digest:
    """A sent digest whose deliveries were queued again sends once more; others stay as they are."""
    return _apply(db, "reopen", ref, actor, now)


def transition_table() -> str:
    """The lifecycle as a Markdown table, for docs/architecture.md (a test keeps them equal)."""
    rows = ["| transition | from | to | when |", "| --- | --- | --- | --- |"]
    for t in TRANSITIONS.values():
        rows.append(f"| {t.name} | {', '.join(t.sources)} | {t.target} | {t.meaning} |")
    return "\n".join(rows) + "\n"
