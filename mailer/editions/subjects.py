"""A new digest's subject from MAILER_DIGEST_SUBJECT, and the part of it a phone inbox shows."""

from __future__ import annotations

from mailer.content.calendar import period_bounds
from mailer.core.config import Settings
from mailer.core.subject_format import fill

SUBJECT_MAX = 70  # longer subjects are cut by every inbox; the lead headline rarely needs more
PHONE_CHARS = 38  # what a 375-390 px phone inbox shows of a subject line before its "…"
ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """The text whole if it fits, else cut at the last word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    if " " in cut and text[len(cut)] != " ":
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-\u2013\u2014") + ELLIPSIS


def default_subject(
    lead_headline: str, period_key: str, settings: Settings, list_name: str | None = None
) -> str:
    """The subject a build proposes: MAILER_DIGEST_SUBJECT filled (its {list_name} the
    newsletter's), at most SUBJECT_MAX long."""
    start, _end = period_bounds(period_key, settings.zone)
    local = start.astimezone(settings.zone)
    subject = fill(
        settings.digest_subject,
        headline=lead_headline,
        list_name=list_name or settings.list_name,
        site_name=settings.site_name,
        date=f"{local.day} {local.strftime('%B')}",
    )
    return shorten(subject, SUBJECT_MAX)


def subject_preview(subject: str, width: int = PHONE_CHARS) -> str:
    """What a phone inbox shows of the subject, so the desk can show the editor the same cut."""
    text = " ".join(subject.split())
    if len(text) <= width:
        return text
    return text[: width - len(ELLIPSIS)].rstrip() + ELLIPSIS
