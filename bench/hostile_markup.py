"""Cleaning and parsing hostile feed markup: time for n and 4n copies, and their ratio.

A linear cleaner shows a ratio near 4; a quadratic one near 16 (the old share-link pattern
took 41 s for 16k unclosed links). Fields longer than MAX_FRAGMENT are cut first, so 4n
copies fill it at most. Prints one JSON line per input and step.
Run: python bench/hostile_markup.py [--fill 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mailer.content.sources.clean import MAX_FRAGMENT, clean_summary, first_image
from mailer.content.sources.rss import parse_feed

INPUTS = {
    "share links": '<a class="share">x',
    "image tags": "<img src='a' ",
    "comments": "<!--",
    "attributes": '<a b="',
}


def clean(markup: str) -> None:
    clean_summary(markup)
    first_image(markup)


def feed(markup: str) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>T</title>'
        "<link>https://a.example/x</link><description><![CDATA["
        + markup
        + "]]></description></item></channel></rss>"
    ).encode()
    parse_feed(body, "https://a.example/feed", datetime.now(UTC))


def seconds(work, markup: str, repeat: int = 3) -> float:
    """The best of a few runs, so a busy machine disturbs the ratio less."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work(markup)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fill", type=float, default=1.0, help="share of MAX_FRAGMENT at 4n")
    fill = parser.parse_args().fill
    for name, unit in INPUTS.items():
        units = int(MAX_FRAGMENT * fill) // (4 * len(unit))
        for label, work in (("clean", clean), ("feed", feed)):
            small, large = seconds(work, unit * units), seconds(work, unit * units * 4)
            print(
                json.dumps(
                    {
                        "input": name,
                        "step": label,
                        "units": units,
                        "seconds_n": round(small, 4),
                        "seconds_4n": round(large, 4),
                        "ratio": round(large / max(small, 1e-9), 2),
                    }
                )
            )


if __name__ == "__main__":
    main()
