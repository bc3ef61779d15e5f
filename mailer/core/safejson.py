"""JSON from strangers: nesting is measured before parsing, so a deep body is a clear refusal
and never a RecursionError (which json.loads raises, and which is not a ValueError)."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # no payload we accept nests deeper than a dozen levels
# A whole JSON string (so brackets inside text are skipped), or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JSONTooDeep(ValueError):
    """The document nests arrays and objects deeper than we read."""


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The deepest nesting of arrays and objects, counted up to just past `limit`."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        piece = match.group(0)
        if piece in ("[", "{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif piece in ("]", "}"):
            depth -= 1
    return deepest


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for untrusted input: raises ValueError (JSONTooDeep, JSONDecodeError or
    UnicodeDecodeError) for anything it will not read, and nothing else."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if nesting_depth(text, max_depth) > max_depth:
        raise JSONTooDeep(f"The JSON nests deeper than {max_depth} levels.")
    return json.loads(text)
