"""Which clicks a machine made: mail security scanners, link previewers, HTTP libraries.

Scanners follow every link of a message in the seconds after it arrives, often with HEAD
requests or a telling user agent, and many links within one second. Such clicks are kept
apart (by reason) so the desk can show how many were set aside.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable, Iterable

# Case-blind words in the user agents of scanners, previewers and HTTP libraries. A reader's
# browser or mail app carries none of them.
SCANNER_AGENTS = (
    "bot",
    "spider",
    "crawl",
    "scan",
    "preview",
    "barracuda",
    "proofpoint",
    "mimecast",
    "messagelabs",
    "symantec",
    "trendmicro",
    "forcepoint",
    "fortiguard",
    "ironport",
    "sophos",
    "zscaler",
    "safelinks",
    "microsoft office existence discovery",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "curl/",
    "wget",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww",
    "headless",
    "phantomjs",
)

REASONS = ("head", "agent", "early", "burst")


def machine_agent(user_agent: str | None, extra: Iterable[str] = ()) -> bool:
    """An empty user agent, or one naming a scanner or an HTTP library."""
    agent = (user_agent or "").strip().lower()
    if not agent:
        return True
    return any(word in agent for word in SCANNER_AGENTS) or any(
        word.lower() in agent for word in extra if word
    )


def machine_reason(
    *,
    method: str,
    user_agent: str | None,
    seconds_after_delivery: float | None,
    scanner_seconds: int,
    extra_agents: Iterable[str] = (),
) -> str | None:
    """Why one click is a machine's (head, agent, early), or None when it looks like a reader."""
    if method.upper() == "HEAD":
        return "head"
    if machine_agent(user_agent, extra_agents):
        return "agent"
    if seconds_after_delivery is not None and seconds_after_delivery <= scanner_seconds:
        return "early"
    return None


class BurstWatch:
    """Clicks per client in the last second, in this process: the `limit`-th link within a
    second makes this click and the ones before it in that second a machine's.

    `see` returns the earlier clicks to take back from the people's count. Per process, so a
    scanner spread over several server processes is caught only as far as each one sees it.
    """

    def __init__(self, limit: int, window: float = 1.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self.recent: dict[Hashable, deque[list]] = {}
        self.lock = threading.Lock()

    def see(self, client: Hashable, at: float, click: Hashable) -> tuple[bool, list[Hashable]]:
        """(is this click part of a burst, earlier counted clicks to move to the burst count)."""
        with self.lock:
            window = self.recent.get(client)
            if window is None:
                if len(self.recent) >= self.max_clients:
                    self._forget_quiet(at)
                window = self.recent[client] = deque()
            while window and at - window[0][0] > self.window:
                window.popleft()
            burst = len(window) + 1 >= self.limit
            taken_back = []
            if burst:
                for entry in window:
                    if entry[2]:  # counted for people so far
                        taken_back.append(entry[1])
                        entry[2] = False
            window.append([at, click, not burst])
            return burst, taken_back

    def _forget_quiet(self, at: float) -> None:
        for client in [c for c, w in self.recent.items() if not w or at - w[-1][0] > self.window]:
            del self.recent[client]
        while len(self.recent) >= self.max_clients:  # all busy: drop the oldest clients
            self.recent.pop(next(iter(self.recent)))
