"""An editor's changes to a draft: text, order, pins, stories and related items, each audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailer.core.db import Database
from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import Article, Digest, DigestItem
from mailer.core.text import strip_invisible
from mailer.editions.audit import audit
from mailer.editions.digests import EDITABLE, get_digest, snapshot_item, snapshot_related
from mailer.editions.judgments import record_choice


def _editable(session: Session, ref: str | int) -> Digest:
    digest = get_digest(session, ref, lock=True)
    if digest.status not in EDITABLE:
        raise Conflict(
            f"{digest.period_key} is {digest.status}; withdraw approval before changing it."
        )
    return digest


def _item(digest: Digest, item_id: int) -> DigestItem:
    for item in digest.items:
        if item.id == item_id:
            return item
    raise NotFound(f"story {item_id} is not in {digest.period_key}.")


def _touch(
    session: Session, digest: Digest, actor: str, action: str, now: datetime, detail: dict
) -> None:
    digest.updated_at = now
    session.flush()
    audit(session, actor, action, digest, now, detail)


def set_text(
    db: Database,
    ref: str | int,
    actor: str,
    now: datetime,
    *,
    subject: str | None = None,
    preheader: str | None = None,
    intro: str | None = None,
) -> None:
    """The editor's words: subject, preheader (the inbox preview line) and intro."""
    with db.session() as session:
        digest = _editable(session, ref)
        changes = {}
        for name, value in (("subject", subject), ("preheader", preheader), ("intro", intro)):
            if value is not None:
                # the subject and inbox line are shown where a reversed or hidden word misleads
                value = (
                    " ".join(strip_invisible(value).split()) if name != "intro" else value.strip()
                )
                if name == "subject" and not value:
                    raise MailerError("the subject cannot be empty.")
                if len(value) > (4000 if name == "intro" else 250):
                    raise MailerError(f"the {name} is too long.")
                setattr(digest, name, value)
                changes[name] = value
        _touch(session, digest, actor, "edit text", now, changes)


def move_item(
    db: Database, ref: str | int, item_id: int, offset: int, actor: str, now: datetime
) -> None:
    """Move a story up (negative offset) or down; positions stay 0..n-1."""
    with db.session() as session:
        digest = _editable(session, ref)
        items = sorted(digest.items, key=lambda i: i.position)
        item = _item(digest, item_id)
        index = items.index(item)
        target = max(0, min(len(items) - 1, index + offset))
        items.insert(target, items.pop(index))
        _renumber(items)
        _touch(session, digest, actor, "reorder", now, {"item": item.title, "to": target})


def reorder_items(
    db: Database, ref: str | int, item_ids: list[int], actor: str, now: datetime
) -> None:
    """Put the stories in the order given (a drag-and-drop's result): every story, once."""
    with db.session() as session:
        digest = _editable(session, ref)
        current = {item.id: item for item in digest.items}
        if sorted(item_ids) != sorted(current):
            raise MailerError("give every story of the digest exactly once to reorder them.")
        _renumber([current[i] for i in item_ids])
        _touch(session, digest, actor, "reorder", now, {"order": list(item_ids)})


def _renumber(items: list) -> None:
    """Positions 0..n-1 in the given order, for stories and related items alike."""
    for n, it in enumerate(items):
        it.position = n


def set_pinned(
    db: Database, ref: str | int, item_id: int, pinned: bool, actor: str, now: datetime
) -> None:
    """A pinned story survives a rebuild and cannot be excluded until unpinned."""
    with db.session() as session:
        digest = _editable(session, ref)
        item = _item(digest, item_id)
        item.pinned = pinned
        _touch(session, digest, actor, "pin" if pinned else "unpin", now, {"item": item.title})


def exclude_item(db: Database, ref: str | int, item_id: int, actor: str, now: datetime) -> None:
    """Take a story out of the issue (its related coverage goes with it)."""
    with db.session() as session:
        digest = _editable(session, ref)
        item = _item(digest, item_id)
        if item.pinned:
            raise Conflict("unpin the story before removing it.")
        if len(digest.items) <= 1:
            raise Conflict("a digest needs at least one story.")
        digest.items.remove(item)
        session.flush()
        _renumber(sorted(digest.items, key=lambda i: i.position))
        detail = {"item": item.title, "article": item.article_id, "position": item.position}
        _touch(session, digest, actor, "exclude", now, detail)


def add_story(
    db: Database,
    ref: str | int,
    article_id: int,
    actor: str,
    now: datetime,
    position: int | None = None,
) -> int:
    """Add any stored article as a story, frozen like the others: at the end, or at `position`
    (where a removed story stood, when an editor restores it). Returns the new story's id."""
    with db.session() as session:
        digest = _editable(session, ref)
        article = session.get(Article, article_id)
        if article is None:
            raise NotFound(f"no article {article_id}.")
        if any(i.article_id == article_id for i in digest.items):
            raise Conflict("that article is already a story in this digest.")
        items = sorted(digest.items, key=lambda i: i.position)
        item = snapshot_item(article, len(items), 0.0)
        digest.items.append(item)
        at = len(items) if position is None else max(0, min(position, len(items)))
        items.insert(at, item)
        _renumber(items)
        action = "add story" if position is None else "restore story"
        _touch(session, digest, actor, action, now, {"item": article.title})
        return item.id


def remove_related(
    db: Database, ref: str | int, related_id: int, actor: str, now: datetime
) -> None:
    """Drop one related item an editor judges off-topic."""
    with db.session() as session:
        digest = _editable(session, ref)
        for item in digest.items:
            for rel in item.related:
                if rel.id == related_id:
                    record_choice(session, item.article_id, rel.article_id, False, actor, now)
                    item.related.remove(rel)
                    _renumber(item.related)
                    _touch(session, digest, actor, "remove related", now, {"related": rel.title})
                    return
        raise NotFound(f"related item {related_id} is not in {digest.period_key}.")


def add_related(
    db: Database, ref: str | int, item_id: int, article_id: int, actor: str, now: datetime
) -> None:
    """Add an article an editor knows belongs under a story."""
    with db.session() as session:
        digest = _editable(session, ref)
        item = _item(digest, item_id)
        article = session.get(Article, article_id)
        if article is None:
            raise NotFound(f"no article {article_id}.")
        if any(r.article_id == article_id for r in item.related) or item.article_id == article_id:
            raise Conflict("that article is already shown with this story.")
        item.related.append(snapshot_related(article, len(item.related), 0.0))
        record_choice(session, item.article_id, article.id, True, actor, now)
        _touch(session, digest, actor, "add related", now, {"related": article.title})
