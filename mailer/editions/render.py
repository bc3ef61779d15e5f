"""Render a digest once; personalise each message by substitution, never by re-running Jinja."""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import inspect as sa_inspect

from mailer.content.calendar import period_bounds, special_day
from mailer.core import i18n
from mailer.core.config import Settings
from mailer.core.errors import MailerError
from mailer.core.templates import environment
from mailer.core.text import strip_invisible
from mailer.editions.clicks.links import tracker
from mailer.editions.placeholders import hide_provider_placeholders
from mailer.readers import newsletters

MAX_HTML_BYTES = 90 * 1024  # Gmail clips messages at about 102 KB

# The per-recipient values a rendered digest may carry. Each render marks their places with a
# fresh random nonce, so no feed or editor text can contain a marker: only the template's own
# places are ever personalised, and text like "%%PREFERENCES_URL%%" from a story stays text.
# click_reader: the reader's click token at the end of per_reader click links (editions.clicks).
PLACEHOLDERS = ("unsubscribe_url", "preferences_url", "first_name", "greeting", "click_reader")
NONCE_BYTES = 16


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def marker(name: str, nonce: str) -> str:
    return f"%%{name.upper()}-{nonce}%%"


@dataclass(frozen=True)
class RenderedDigest:
    """One digest's subject, preheader, HTML and text with markers where per-recipient values go."""

    subject: str
    preheader: str
    html: str
    text: str
    web_url: str = ""
    nonce: str = field(kw_only=True)  # the unguessable part of this render's markers
    language: str = field(default=i18n.SOURCE_LANGUAGE, kw_only=True)

    def __post_init__(self) -> None:
        if len(self.nonce) < NONCE_BYTES * 2 or not self.nonce.isalnum():
            raise ValueError("a rendered digest needs an unguessable marker nonce (new_nonce()).")

    @cached_property
    def markers(self) -> dict[str, str]:
        """Each per-recipient value this render has a place for, and its random marker."""
        present = {}
        for name in PLACEHOLDERS:
            key = marker(name, self.nonce)
            if key in self.html or key in self.text or key in self.subject:
                present[name] = key
        return present

    def personalise(self, values: Mapping[str, str]) -> tuple[str, str, str]:
        """(subject, text, html) for one recipient; values are HTML-escaped in the HTML part."""
        subject, text, body = fill(self.subject, self.text, self.html, self.markers, values)
        return subject, text, body or ""


def fill(
    subject: str,
    text: str,
    body: str | None,
    markers: Mapping[str, str],
    values: Mapping[str, str],
) -> tuple[str, str, str | None]:
    """Put one reader's values where the markers stand (HTML-escaped in the HTML part); the
    one substitution every path uses, so a provider's batch and a lone message say the same."""
    for name, key in markers.items():
        value = values.get(name, "")
        subject = subject.replace(key, value)
        text = text.replace(key, value)
        if body is not None:
            body = body.replace(key, html.escape(value, quote=True))
    return subject, text, body


def greeting(first_name: str | None, language: str = i18n.SOURCE_LANGUAGE) -> str:
    """The digest's first line for one reader, in their language."""
    if first_name:
        return i18n.gettext_for(language, "Hello %(name)s,", name=first_name)
    return i18n.gettext_for(language, "Hello,")


NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def intro_paragraphs(
    intro: str | None,
    stories: int,
    with_related: bool,
    site_name: str,
    language: str = i18n.SOURCE_LANGUAGE,
    special: bool = False,
) -> list[str]:
    """The editor's paragraphs; with none, one line saying what the issue holds, so the
    greeting never stands alone above a gap."""
    paragraphs = [p.strip() for p in (intro or "").replace("\r\n", "\n").split("\n\n")]
    if any(paragraphs):
        return [p for p in paragraphs if p]
    if special:
        if with_related:
            line = i18n.gettext_for(
                language, "A special edition from %(site)s, with related coverage.", site=site_name
            )
        else:
            line = i18n.gettext_for(language, "A special edition from %(site)s.", site=site_name)
        return [line]
    english = language == i18n.SOURCE_LANGUAGE and stories < len(NUMBERS)
    count = NUMBERS[stories] if english else i18n.number(stories, language)
    if with_related:
        line = i18n.ngettext_for(
            language,
            "Here is this week's top story from %(site)s, with related coverage.",
            "Here are this week's %(count)s top stories from %(site)s, with related coverage.",
            stories,
            site=site_name,
            count=count,
        )
    else:
        line = i18n.ngettext_for(
            language,
            "Here is this week's top story from %(site)s.",
            "Here are this week's %(count)s top stories from %(site)s.",
            stories,
            site=site_name,
            count=count,
        )
    return [line]


def long_date(moment: datetime, zone: ZoneInfo, language: str = i18n.SOURCE_LANGUAGE) -> str:
    """A date as readers write it, in the newsroom's zone: Monday 30 November 2026 (English),
    Montag, 30. November 2026 (German)."""
    return i18n.long_date(moment.astimezone(zone), language)


def week_label(start: datetime, zone: ZoneInfo, language: str = i18n.SOURCE_LANGUAGE) -> str:
    return i18n.gettext_for(language, "Week of %(day)s", day=long_date(start, zone, language))


def safe_link(url: str | None) -> str:
    """Only http(s) links survive; anything else renders as plain text."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def with_utm(url: str, campaign: str, own_hosts: frozenset[str]) -> str:
    """Tag the site's own links for its analytics; replace any utm_* already there."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in own_hosts:
        return url
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    query += [("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", campaign)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _context(
    digest, settings: Settings, web: bool, nonce: str = "", language: str | None = None
) -> dict:
    language = language or settings.default_language
    if not web and not nonce:
        raise ValueError("a mail rendering needs its marker nonce.")
    zone = settings.zone
    items = sorted(digest.items, key=lambda i: i.position)
    # The site's own links get UTM tags: MAILER_SITE_HOSTS, or else the hosts of this issue's
    # stories. Never the mailer's own host (its links are not the site's articles).
    own_hosts = frozenset(h.lower() for h in settings.site_hosts) or frozenset(
        (urlsplit(i.url).hostname or "").lower() for i in items
    )
    own_hosts -= {(urlsplit(settings.base_url).hostname or "").lower(), ""}
    campaign = f"digest-{digest.period_key}"

    # None: links go straight to the site. Per_reader links end in the click_reader marker.
    track = tracker(settings, digest, web, reader_part="" if web else marker("click_reader", nonce))

    def link(url: str, kind: str = "", item_id: int | None = None) -> str:
        safe = safe_link(url)
        href = with_utm(safe, campaign, own_hosts) if safe else ""
        return track(href, kind, item_id) if track and kind else href

    def day(moment) -> str:
        return long_date(moment, zone, language)

    stories = [
        {
            "title": item.title,
            "link": link(item.url, "story", item.id),
            "excerpt": item.excerpt,
            "author": item.author,
            "section": item.section,
            "date": day(item.published_at),
            "image_url": safe_link(item.image_url) if item.image_url else "",
            "image_alt": item.image_alt,
            "related": [
                {
                    "title": rel.title,
                    "link": link(rel.url, "related", rel.id),
                    "date": day(rel.published_at),
                    "context": rel.context,
                }
                # oldest first: the story so far, read down to this week's piece
                for rel in sorted(item.related, key=lambda r: (r.published_at, r.position))
            ],
        }
        for item in items
    ]
    web_url = f"{settings.base_url.rstrip('/')}/archive/{digest.period_key}"

    special = special_day(digest.period_key)
    return {
        "digest": digest,
        "stories": stories,
        "site_name": settings.site_name,
        "list_name": list_name(digest, settings),
        "period_label": period_label(digest.period_key, zone, language),
        "special": special is not None,
        "web_url": web_url,
        "web": web,
        "intro": intro_paragraphs(
            digest.intro,
            len(stories),
            any(s["related"] for s in stories),
            settings.site_name,
            language,
            special is not None,
        ),
        # the web version is for anyone: no personal places at all, and no greeting
        "greeting": "" if web else marker("greeting", nonce),
        "first_name": "" if web else marker("first_name", nonce),
        "unsubscribe_url": "" if web else marker("unsubscribe_url", nonce),
        "preferences_url": "" if web else marker("preferences_url", nonce),
        "postal_address": settings.postal_address,
    }


def list_name(digest, settings: Settings) -> str:
    """The name readers know the issue's newsletter by: MAILER_LIST_NAME for the default one
    (and for a digest whose newsletter was never loaded), the newsletter's own otherwise."""
    state = sa_inspect(digest, raiseerr=False)
    if state is None or "newsletter" in state.unloaded:
        return settings.list_name
    return newsletters.list_name_of(digest.newsletter, settings)


def period_label(key: str, zone: ZoneInfo, language: str = i18n.SOURCE_LANGUAGE) -> str:
    """What the issue is called above its stories: 'Week of …', or 'Special edition, …'."""
    special = special_day(key)
    if special is not None:
        midday = datetime(special.year, special.month, special.day, 12, tzinfo=zone)
        day = long_date(midday, zone, language)
        return i18n.gettext_for(language, "Special edition, %(day)s", day=day)
    start, _end = period_bounds(key, zone)
    return week_label(start, zone, language)


@lru_cache(maxsize=1)
def _inliner():
    """Inline every rule; keep @media (dark mode, narrow screens), which cannot be inlined;
    never fetch a stylesheet from the network."""
    import css_inline

    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def inline_css(document: str) -> str:
    return _inliner().inline(document)


def render_digest(
    digest, settings: Settings, web_url: str | None = None, language: str | None = None
) -> RenderedDigest:
    """Subject, HTML (CSS inlined) and text for a digest in one language (the site's default
    when None), with per-recipient markers; `web_url` replaces the archive link (a test
    mail's signed preview of a draft). A send renders once per language, never per reader."""
    language = language or settings.default_language
    env = environment(language=language)
    nonce = new_nonce()
    context = _context(digest, settings, web=False, nonce=nonce, language=language)
    if web_url:
        context["web_url"] = web_url
    subject = strip_invisible(env.get_template("email/digest/subject.txt").render(context)).strip()
    body_html = inline_css(env.get_template("email/digest/body.html").render(context))
    body_html = hide_provider_placeholders(body_html)  # a provider fills no feed's placeholder
    text = env.get_template("email/digest/body.txt").render(context).strip() + "\n"
    return RenderedDigest(
        subject,
        digest.preheader,
        body_html,
        text,
        context["web_url"],
        nonce=nonce,
        language=language,
    )


def web_issue(digest, settings: Settings, language: str | None = None) -> dict:
    """What the archive's page of an issue shows: its stories, introduction and week, with no
    greeting, no personal or tracked link and no marker (anyone may read it)."""
    context = _context(digest, settings, web=True, language=language)
    return {key: context[key] for key in ("stories", "intro", "period_label", "web_url", "special")}


def check_size(digest, settings: Settings) -> int:
    """Refuse a digest whose HTML would be clipped by Gmail in any offered language (German
    runs longer than English); returns the largest size in bytes."""
    size = max(
        len(render_digest(digest, settings, language=language).html.encode("utf-8"))
        for language in settings.languages
    )
    if size > MAX_HTML_BYTES:
        raise MailerError(
            f"the {digest.period_key} email would be {size // 1024} KB of HTML, over the "
            f"{MAX_HTML_BYTES // 1024} KB that mail clients show in full; remove stories or "
            "related items."
        )
    return size
