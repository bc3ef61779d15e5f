"""Loading .env belongs to entry points, never to import time."""

from __future__ import annotations

import os
from pathlib import Path

_loaded = False


def load_dotenv_once(path: str | os.PathLike[str] | None = None) -> None:
    """Read .env from the working folder once; real environment variables win."""
    global _loaded
    if _loaded:
        return
    from dotenv import load_dotenv

    target = Path(path) if path else Path.cwd() / ".env"
    if target.is_file():
        load_dotenv(target, override=False)
    _loaded = True
