"""What the pre-send check reports: findings of three levels, each one sentence."""

from __future__ import annotations

from dataclasses import dataclass

from mailer.delivery.spamassassin import SpamScore

LEVELS = ("error", "warning", "note")  # an error blocks the send; a note only informs


@dataclass(frozen=True)
class Finding:
    level: str
    check: str  # which check: unsubscribe, dkim, headers, text, size, links, images, ...
    sentence: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"a finding is one of {LEVELS}, not {self.level!r}")


@dataclass(frozen=True)
class CheckReport:
    """The check of one digest as a sample reader would get it."""

    period_key: str
    findings: tuple[Finding, ...]
    html_bytes: int
    message_bytes: int
    spam: SpamScore | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        spam = None
        if self.spam is not None:
            spam = {
                "tool": self.spam.tool,
                "score": self.spam.score,
                "threshold": self.spam.threshold,
                "rules": [r.__dict__ for r in self.spam.rules],
            }
        return {
            "period": self.period_key,
            "passed": self.passed,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "html_bytes": self.html_bytes,
            "message_bytes": self.message_bytes,
            "findings": [f.__dict__ for f in self.findings],
            "spamassassin": spam,
        }
