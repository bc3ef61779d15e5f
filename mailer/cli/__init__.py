"""The `mailer` command line: a thin layer over Services, which tests build too.

Every command module is imported here by name, so the commands `main` offers are plain to see.
"""

from __future__ import annotations

import sys

from mailer.cli import (  # noqa: F401  (each module adds its commands to `main` on import)
    articles,
    audience,
    core,
    digest_check,
    digest_content,
    digest_send,
    groups,
    newsletters,
    operators,
    readers,
    related,
    roster,
    specials,
    workers,
)
from mailer.cli.base import AppContext, main, pass_app

__all__ = ["AppContext", "main", "pass_app"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
