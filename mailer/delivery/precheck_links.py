"""The pre-send check of a message's HTML: every link and image as a reader's mail app sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from mailer.delivery.precheck_findings import Finding

MAX_LISTED = 5  # links named one by one; the rest are counted in one more finding
MAX_SHOWN = 120  # characters of a link quoted in a finding


@dataclass
class Page:
    """The links (href of <a>) and images (src and alt of <img>) of an HTML part."""

    links: list[str] = field(default_factory=list)
    images: list[tuple[str, str | None]] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and "href" in values:
            self.page.links.append((values["href"] or "").strip())
        elif tag == "img":
            self.page.images.append(((values.get("src") or "").strip(), values.get("alt")))


def read_page(html: str) -> Page:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.page


def shown(url: str) -> str:
    return url if len(url) <= MAX_SHOWN else url[: MAX_SHOWN - 1] + "…"


def malformed(url: str) -> str | None:
    """Why an absolute web address is not well formed, or None."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "has spaces or control characters in it"
    if not url.isascii():
        return "has characters that are not percent-encoded"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return "cannot be parsed"
    host = parts.hostname or ""
    if not host or host.startswith(".") or ".." in host or "@" in parts.netloc:
        return "has no valid host name"
    return None


@dataclass
class LinkRules:
    """What counts as our own link (the mailer's host) and how an http one of ours is judged."""

    own_host: str
    own_http_level: str  # "error", or "warning" on a development machine's loopback address
    own_http_sentence: str


def link_findings(page: Page, rules: LinkRules) -> list[Finding]:
    """Every link https and well formed: a reader's click must reach a real, private page."""
    findings: list[Finding] = []
    own_http = 0
    for url in dict.fromkeys(page.links):
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme == "mailto":
            continue
        if scheme not in ("http", "https"):
            sentence = f"A link goes to {shown(url)!r}, which is not a web address."
            findings.append(Finding("error", "links", sentence))
            continue
        why = malformed(url)
        ours = why is None and (urlsplit(url).hostname or "").lower() == rules.own_host
        if why:
            # a feed's link: the reader may still get there, so the editor decides
            sentence = f"The link {shown(url)!r} {why}; some mail apps will not open it."
            findings.append(Finding("warning", "links", sentence))
        elif scheme == "http" and ours:
            own_http += 1
        elif scheme == "http":
            findings.append(
                Finding(
                    "warning",
                    "links",
                    f"The link {shown(url)} is plain http; mail apps may warn readers, so link "
                    "to the https address.",
                )
            )
    if own_http:
        findings.append(Finding(rules.own_http_level, "links", rules.own_http_sentence))
    return _capped(findings, "links", "link")


def image_findings(page: Page) -> list[Finding]:
    """Images load only from absolute https addresses, and say what they show in alt text."""
    findings: list[Finding] = []
    for src, alt in dict.fromkeys(page.images):
        scheme = src.partition(":")[0].lower() if ":" in src else ""
        why = malformed(src)
        if scheme not in ("http", "https"):
            sentence = (
                f"The image {shown(src)!r} is not an absolute https address, so no mail app "
                "can load it."
            )
            findings.append(Finding("error", "images", sentence))
        elif why:
            sentence = f"The image address {shown(src)!r} {why}; some mail apps will not load it."
            findings.append(Finding("warning", "images", sentence))
        elif scheme == "http":
            sentence = f"The image {shown(src)} loads over plain http; some mail apps block it."
            findings.append(Finding("warning", "images", sentence))
        if not (alt or "").strip():
            findings.append(
                Finding(
                    "warning",
                    "images",
                    f"The image {shown(src)} has no alt text; readers with images off or a "
                    "screen reader learn nothing from it.",
                )
            )
    return _capped(findings, "images", "image")


def _capped(findings: list[Finding], check: str, noun: str) -> list[Finding]:
    """At most MAX_LISTED findings of each level, then one that counts the rest."""
    kept: list[Finding] = []
    left: dict[str, int] = {}
    for finding in findings:
        if sum(1 for k in kept if k.level == finding.level) < MAX_LISTED:
            kept.append(finding)
        else:
            left[finding.level] = left.get(finding.level, 0) + 1
    kept += [
        Finding(level, check, f"And {count} more {noun}{'s' if count > 1 else ''} like those.")
        for level, count in left.items()
    ]
    return kept
