"""The docs stay true to the tree: links resolve, paths and settings exist, commands are listed."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click

from mailer.cli import main
from mailer.core.config import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
TREE_PATH = re.compile(r"(?<![\w/.\-])((?:mailer|tests|bench|templates|docs)/[\w./\-]*)")
SETTING = re.compile(r"\bMAILER_[A-Z0-9_]*[A-Z0-9]\b")
NOT_SETTINGS = {"MAILER_TEST_DATABASE_URL"}  # read by the test fixtures, not by the product


def prose(path: Path) -> str:
    """The text outside fenced code blocks, where links and headings live."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(prose(path))}


def test_the_docs_exist():
    names = {p.name for p in DOCS}
    for name in ("architecture.md", "configuration.md", "operators.md", "security.md"):
        assert name in names, f"docs/{name} is missing"


def test_readme_stays_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 200, f"README.md has {lines} lines; move detail into docs/"


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(prose(doc)):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not ours to check offline
            file_part, _, anchor = target.partition("#")
            resolved = (doc.parent / file_part).resolve() if file_part else doc
            if not resolved.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{doc.name}: {target} (no heading #{anchor})")
            elif anchor and resolved.suffix != ".md":
                broken.append(f"{doc.name}: {target} (anchors only into .md files)")
    assert broken == []


def test_every_path_in_the_tree_that_the_docs_name_exists():
    missing = []
    for doc in DOCS:
        for path in TREE_PATH.findall(doc.read_text(encoding="utf-8")):
            path = path.rstrip(".,")
            if not (ROOT / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert missing == []


def test_every_setting_the_docs_name_is_real():
    real = {env_name(f.name) for f in dataclasses.fields(Settings)}
    unknown = []
    for doc in DOCS:
        for name in set(SETTING.findall(doc.read_text(encoding="utf-8"))):
            if name not in real and name not in NOT_SETTINGS:
                unknown.append(f"{doc.name}: {name}")
    assert unknown == []


def leaf_commands(group: click.Group, prefix: str = "mailer") -> list[str]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += leaf_commands(command, path)
        else:
            found.append(path)
    return found


def test_every_cli_command_is_in_the_operators_guide():
    guide = (ROOT / "docs" / "operators.md").read_text(encoding="utf-8")
    commands = leaf_commands(main)
    assert len(commands) > 30
    missing = [c for c in commands if f"| `{c}" not in guide]
    assert missing == [], "add them to the table in docs/operators.md"
