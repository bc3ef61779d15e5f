"""SpamAssassin's opinion of a message, when it is installed: spamc (a running spamd) first,
else the `spamassassin` script with local tests only (no DNS or network lookups)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

TIMEOUT_SECONDS = 120.0
SPAMC = ("spamc", "-R", "-x", "--connect-retries=1")
# -L: local tests only; no Bayes database, no user preferences file written under $HOME
SPAMASSASSIN = (
    "spamassassin",
    "-L",
    "-t",
    "-p",
    "/dev/null",
    "--cf=use_bayes 0",
    "--cf=bayes_auto_learn 0",
)
_DETAILS = "Content analysis details:"
_TOTALS = re.compile(r"\(\s*(-?\d+(?:\.\d+)?) points,\s*(-?\d+(?:\.\d+)?) required\)")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9_]*)\s+(.*)$")
_MORE = re.compile(r"^\s{10,}(\S.*)$")


@dataclass(frozen=True)
class SpamRule:
    points: float
    name: str
    description: str


@dataclass(frozen=True)
class SpamScore:
    tool: str  # spamc or spamassassin
    score: float
    threshold: float
    rules: tuple[SpamRule, ...]

    @property
    def is_spam(self) -> bool:
        return self.score >= self.threshold


def parse_report(output: str) -> tuple[float, float, tuple[SpamRule, ...]] | None:
    """Score, threshold and rules from the report table. Only what follows the last
    "Content analysis details:" is read: the message itself (echoed by `-t` before the report)
    is a stranger's text and may imitate a report."""
    at = output.rfind(_DETAILS)
    if at < 0:
        return None
    lines = output[at + len(_DETAILS) :].splitlines()
    totals = _TOTALS.search(lines[0]) if lines else None
    if totals is None:
        return None
    rules: list[SpamRule] = []
    for line in lines[1:]:
        if match := _RULE.match(line):
            rules.append(SpamRule(float(match[1]), match[2], match[3].strip()))
        elif rules and (more := _MORE.match(line)):
            last = rules[-1]
            rules[-1] = SpamRule(last.points, last.name, f"{last.description} {more[1].strip()}")
    return float(totals[1]), float(totals[2]), tuple(rules)


def _run(command: tuple[str, ...], raw: bytes) -> str | None:
    try:
        done = subprocess.run(
            command, input=raw, capture_output=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def spam_score(raw: bytes) -> SpamScore | str:
    """The score, or one sentence saying why there is none (not installed, no answer)."""
    tried = []
    for command in (SPAMC, SPAMASSASSIN):
        path = shutil.which(command[0])
        if path is None:
            continue
        tried.append(command[0])
        output = _run((path, *command[1:]), raw)
        parsed = parse_report(output) if output is not None else None
        if parsed is not None:
            return SpamScore(command[0], *parsed)
    if not tried:
        return "SpamAssassin is not installed (neither spamc nor spamassassin is on the PATH)."
    return (
        f"SpamAssassin gave no report ({' and '.join(tried)} tried; spamc needs a running spamd)."
    )
