"""The desk's view of one issue's clicks: per story and related link, with click rates."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailer.core.db import Database
from mailer.editions.clicks.counts import LinkClicks, digest_clicks

REASON_WORDS = {
    "machine_head": "HEAD requests",
    "machine_agent": "scanner agents",
    "machine_early": "just after delivery",
    "machine_burst": "many links in a second",
}


@dataclass(frozen=True)
class ClickRow:
    """One link of the issue: a story (depth 0) or one of its related links (depth 1)."""

    kind: str
    item_id: int
    title: str
    depth: int
    clicks: int
    rate: float | None  # people's clicks per message sent; None before anything is sent
    machines: int
    readers: int


@dataclass
class ClickReport:
    sent: int
    rows: list[ClickRow] = field(default_factory=list)
    opens: int = 0
    machines: dict[str, int] = field(default_factory=dict)  # set aside, by reason

    @property
    def clicks(self) -> int:
        return sum(row.clicks for row in self.rows)

    @property
    def any(self) -> bool:
        return bool(self.clicks or self.opens or sum(self.machines.values()))


def _row(kind: str, item, title: str, depth: int, link: LinkClicks, sent: int) -> ClickRow:
    return ClickRow(
        kind=kind,
        item_id=item.id,
        title=title,
        depth=depth,
        clicks=link.clicks,
        rate=link.clicks / sent if sent else None,
        machines=link.filtered,
        readers=link.readers,
    )


def click_report(db: Database, digest, sent: int) -> ClickReport:
    """Every story and related link in the issue's order, with what was counted for each."""
    counts = digest_clicks(db, digest.id)
    report = ClickReport(sent=sent, machines=dict.fromkeys(REASON_WORDS, 0))
    for link in counts.values():
        for reason in REASON_WORDS:
            report.machines[reason] += link.machine[reason]
    report.opens = counts.get(("open", 0), LinkClicks()).clicks
    for item in sorted(digest.items, key=lambda i: i.position):
        story = counts.get(("story", item.id), LinkClicks())
        report.rows.append(_row("story", item, item.title, 0, story, sent))
        for rel in sorted(item.related, key=lambda r: r.position):
            related = counts.get(("related", rel.id), LinkClicks())
            report.rows.append(_row("related", rel, rel.title, 1, related, sent))
    return report
