"""The desk's second step before an action that sends mail, stops a send or drops a story:
a page that says what will happen, so a stray click (or a POST without it) changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import render_template

from mailer.core.models import Digest
from mailer.scheduler.plan import SendPlan

# Form fields the confirmation carries over; anything else a POST brought is dropped.
CARRIED = ("item", "near", "article", "position", "related")


@dataclass(frozen=True)
class Confirmation:
    """What a confirm page asks, what the action does, and the button that does it."""

    question: str
    button: str
    danger: bool  # irreversible or destructive: styled as such


CONFIRM = {
    "approve": Confirmation("Approve this issue for sending?", "Approve", False),
    "send_now": Confirmation("Send this issue to every reader now?", "Send now", True),
    "veto": Confirmation("Veto automatic sending?", "Veto", True),
    "cancel": Confirmation("Cancel this issue for good?", "Cancel the issue", True),
    "exclude": Confirmation("Remove this story from the issue?", "Remove", True),
}


def confirmed(form) -> bool:
    return form.get("confirm") == "yes"


def confirm_page(digest: Digest, action: str, form, plan: SendPlan, zone: ZoneInfo):
    """The question, the consequences, and a form that repeats the action with confirm=yes."""
    item = next((i for i in digest.items if str(i.id) == form.get("item")), None)
    fields = {name: form[name] for name in CARRIED if form.get(name, "").isdigit()}
    return render_template(
        "web/admin/confirm.html",
        digest=digest,
        action=action,
        ask=CONFIRM[action],
        item=item,
        fields=fields,
        plan=plan,
        zone=zone,
    )
