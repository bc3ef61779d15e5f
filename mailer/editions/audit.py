"""The digest audit log: who changed what and when, written in the transaction of the change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailer.core.models import AuditEntry, Digest


def audit(
    session: Session, actor: str, action: str, digest: Digest, now: datetime, detail: dict
) -> None:
    session.add(
        AuditEntry(
            at=now, actor=actor, action=action, target=f"digest:{digest.period_key}", detail=detail
        )
    )
