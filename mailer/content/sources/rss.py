"""RSS 2.0 and Atom through feedparser, into ArticleData with canonical links and clean text."""

from __future__ import annotations

import calendar
import itertools
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from mailer.content.articles import ArticleData
from mailer.content.sources.canonical import canonical_url, is_http
from mailer.content.sources.clean import clean_summary, excerpt, first_image, plain_text


class ParseError(Exception):
    """The document is not a feed we can read."""


def _when(entry, *names: str) -> datetime | None:
    for name in names:
        parsed = dict.get(entry, name)  # bypass feedparser's deprecated key fallbacks
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _image(entry, body: str, base: str) -> tuple[str | None, str | None]:
    for media in entry.get("media_content", []) or []:
        url = media.get("url")
        kind = (media.get("medium") or media.get("type") or "image").lower()
        if is_http(url) and ("image" in kind):
            alt = next(
                (
                    v
                    for k in ("media_description", "media_text", "media_title")
                    if isinstance(v := entry.get(k), str) and v.strip()
                ),
                None,
            )
            return url, plain_text(alt) or None
    for thumb in entry.get("media_thumbnail", []) or []:
        if is_http(thumb.get("url")):
            return thumb["url"], None
    for enclosure in entry.get("enclosures", []) or []:
        if (enclosure.get("type") or "").startswith("image/") and is_http(enclosure.get("href")):
            return enclosure["href"], None
    src, alt = first_image(body)
    src = urljoin(base, src) if src else None  # relative to the feed: markup is not resolved
    return (src, alt) if is_http(src) else (None, None)


def parse_feed(body: bytes, url: str, now: datetime) -> tuple[list[ArticleData], list[str]]:
    """Articles from a feed document, and notes about items that needed a fallback."""
    # feedparser's own HTML sanitiser and URI resolver are quadratic on hostile markup (1 MB of
    # unclosed comments: minutes); every field is cleaned with nh3 below instead.
    feed = feedparser.parse(
        body,
        response_headers={"content-location": url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not feed.entries:
        if feed.bozo:
            reason = str(feed.get("bozo_exception", "malformed document")).splitlines()[0]
            raise ParseError(f"not a readable feed: {reason[:200]}")
        if not feed.get("version"):
            raise ParseError("not an RSS or Atom feed")
        return [], []
    articles, notes = [], []
    for entry in feed.entries:
        link = entry.get("feedburner_origlink") or entry.get("link")
        if not is_http(link):
            notes.append(f"an item without a web link was skipped ({entry.get('id', '?')})")
            continue
        title = plain_text(entry.get("title"))[:500]
        if not title:
            notes.append(f"an item without a title was skipped ({link})")
            continue
        contents = entry.get("content") or []
        body = contents[0].get("value", "") if contents else ""
        summary_html = entry.get("summary") or body
        published = _when(entry, "published_parsed", "updated_parsed", "created_parsed")
        if published is None:
            notes.append(f"'{title[:60]}' had no date; dated at fetch time")
            published = now
        image, alt = _image(entry, body or summary_html, url)
        tags = tuple(
            dict.fromkeys(plain_text(t.get("term")) for t in entry.get("tags", []) if t.get("term"))
        )
        articles.append(
            ArticleData(
                url=canonical_url(link),
                guid=entry.get("id") or None,
                title=title,
                summary=excerpt(clean_summary(summary_html)),
                author=plain_text(entry.get("author")) or None,
                section=tags[0] if tags else None,
                tags=tags[:10],
                image_url=image,
                image_alt=alt,
                published_at=min(published, now),
                updated_at=_when(entry, "updated_parsed"),
            )
        )
    if feed.bozo and not articles:
        reason = str(feed.get("bozo_exception", "malformed document")).splitlines()[0]
        raise ParseError(f"not a readable feed: {reason[:200]}")
    return with_positions(articles), notes


def with_positions(articles: list[ArticleData]) -> list[ArticleData]:
    """The feed's order as each item's position, when the site chose it: a feed in plain date
    order (either way) only says how new an item is, so its items get no position."""
    dates = [a.published_at for a in articles]
    pairs = list(itertools.pairwise(dates))
    if all(a >= b for a, b in pairs) or all(a <= b for a, b in pairs):
        return articles
    return [replace(a, feed_position=n) for n, a in enumerate(articles)]
