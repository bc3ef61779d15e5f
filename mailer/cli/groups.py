"""Command groups shared by several modules, defined once so each module only adds commands."""

from __future__ import annotations

from mailer.cli.base import main


@main.group("articles")
def articles_group() -> None:
    """Articles: ingest, import, engagement figures, related coverage."""


@main.group("sources")
def sources_group() -> None:
    """Feeds and WordPress sites the articles come from."""


@main.group("digest")
def digest_group() -> None:
    """Weekly digests: build, show, preview, send, follow."""


@main.group("outbox")
def outbox_group() -> None:
    """Transactional mail: confirmations, tests, notices."""


@main.group("subscribers")
def subscribers_group() -> None:
    """Subscribers: add, show, remove, forget, import, export, count."""


@main.group("suppressions")
def suppressions_group() -> None:
    """Addresses never to mail again."""
