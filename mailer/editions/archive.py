"""The public archive of sent issues: what its pages say about each, and its Atom feed.

Every title, summary and link here comes from feeds and editors: the pages escape it (Jinja),
and the feed is written by ElementTree, which escapes it, after characters XML cannot carry are
dropped, so a hostile headline is text in a valid document and never markup or a link of ours.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from mailer.content.calendar import period_bounds, special_day
from mailer.core import i18n
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Digest, Newsletter
from mailer.core.templates import environment
from mailer.core.text import strip_invisible
from mailer.editions.render import intro_paragraphs, long_date, period_label, safe_link, web_issue
from mailer.readers.newsletters import default_newsletter

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 20
FEED_PATH = "/archive.atom"
DESCRIPTION_CHARS = 200
# XML 1.0 allows tab, line breaks and everything from space up, except surrogates and U+FFFE/F.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class ArchivedIssue:
    """One sent issue as the archive lists it: title, when it went, one line about it."""

    period_key: str
    title: str
    sent_at: datetime
    date_label: str
    week_label: str
    description: str
    url: str
    image_url: str
    special: bool = False  # a special edition, which the archive marks as such


def describe(digest: Digest, settings: Settings, language: str | None = None) -> ArchivedIssue:
    """The issue's title, date and a description fit for a meta tag or a feed summary."""
    language = language or settings.default_language
    start, _end = period_bounds(digest.period_key, settings.zone)
    sent = digest.sent_at or digest.send_started_at or digest.updated_at or start
    items = sorted(digest.items, key=lambda i: i.position)
    lead = items[0] if items else None
    special = special_day(digest.period_key) is not None
    first = intro_paragraphs(
        digest.intro, len(items), False, settings.site_name, language, special=special
    )[0]
    summary = digest.preheader or first
    title = (
        strip_invisible(digest.subject)
        or f"{archive_name(digest.newsletter, settings)}: {digest.period_key}"
    )
    return ArchivedIssue(
        period_key=digest.period_key,
        title=title,
        sent_at=sent,
        date_label=long_date(sent, settings.zone, language),
        week_label=period_label(digest.period_key, settings.zone, language),
        description=_shorten(strip_invisible(summary)),
        url=f"{archive_url(digest.newsletter, settings)}/{digest.period_key}",
        image_url=safe_link(lead.image_url) if lead and lead.image_url else "",
        special=special,
    )


def archive_name(newsletter: Newsletter | None, settings: Settings) -> str:
    """The default newsletter keeps MAILER_LIST_NAME, as its mail does; others their name."""
    return (
        newsletter.name
        if newsletter is not None and not newsletter.is_default
        else settings.list_name
    )


def archive_url(newsletter: Newsletter | None, settings: Settings) -> str:
    """/archive for the default newsletter (as before there were several), /archive/SLUG else."""
    base = settings.base_url.rstrip("/") + "/archive"
    return base if newsletter is None or newsletter.is_default else f"{base}/{newsletter.slug}"


def feed_url(newsletter: Newsletter | None, settings: Settings) -> str:
    if newsletter is None or newsletter.is_default:
        return settings.base_url.rstrip("/") + FEED_PATH
    return archive_url(newsletter, settings) + "/feed.atom"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1] + "…"


def sent_digests(
    db: Database, limit: int | None = None, newsletter_id: int | None = None
) -> list[Digest]:
    """A newsletter's issues that went out (None: the default's), newest first (a special
    edition among the weeks as it went)."""
    went = func.coalesce(Digest.sent_at, Digest.updated_at)
    with db.session() as session:
        owner = newsletter_id or default_newsletter(session).id
        query = (
            select(Digest)
            .where(Digest.status == "sent", Digest.newsletter_id == owner)
            .order_by(went.desc(), Digest.period_key.desc())
        )
        return list(session.scalars(query.limit(limit) if limit else query))


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: ET.Element, tag: str, text: str = "", **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrs.items()})
    if text:
        node.text = _xml_text(text)
    return node


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(
    digests: list[Digest], settings: Settings, now: datetime, newsletter: Newsletter | None = None
) -> bytes:
    """An Atom 1.0 document (RFC 4287) of a newsletter's newest sent issues (None: the
    default's), every link absolute."""
    issues = [(describe(d, settings), d) for d in digests[:FEED_ENTRIES]]
    name, home = archive_name(newsletter, settings), archive_url(newsletter, settings)
    language = settings.default_language
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": language})
    _add(feed, "id", home)
    names = {"list": name, "site": settings.site_name}
    _add(feed, "title", i18n.gettext_for(language, "%(list)s from %(site)s", **names))
    subtitle = i18n.gettext_for(language, "Every issue of %(list)s, as it went out.", **names)
    _add(feed, "subtitle", subtitle)
    _add(feed, "updated", _stamp(max((i.sent_at for i, _ in issues), default=now)))
    _add(_add(feed, "author"), "name", settings.site_name)
    _add(feed, "link", rel="self", type="application/atom+xml", href=feed_url(newsletter, settings))
    _add(feed, "link", rel="alternate", type="text/html", href=home)
    template = environment(language=language).get_template("web/_archive_entry.html")
    for issue, digest in issues:
        entry = _add(feed, "entry")
        _add(entry, "id", issue.url)
        _add(entry, "title", issue.title)
        _add(entry, "published", _stamp(issue.sent_at))
        _add(entry, "updated", _stamp(issue.sent_at))
        _add(entry, "link", rel="alternate", type="text/html", href=issue.url)
        _add(entry, "summary", issue.description)
        html = template.render(issue=issue, **web_issue(digest, settings))
        _add(entry, "content", " ".join(html.split()), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
