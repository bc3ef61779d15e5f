"""`mailer digest build|list|show|preview` and `mailer articles related`."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from mailer.cli.base import AppContext, pass_app
from mailer.cli.groups import articles_group, digest_group
from mailer.cli.newsletters import chosen_newsletter, newsletter_option
from mailer.cli.output import emit_json, table
from mailer.content.articles import find_article
from mailer.content.calendar import parse_day, parse_period
from mailer.core.errors import MailerError, NotFound
from mailer.core.models import Article
from mailer.delivery.samples import sample_message
from mailer.editions.digests import build_digest, find_digest
from mailer.editions.figures import recent_digests
from mailer.editions.suggestions import related_for


@digest_group.command("build")
@newsletter_option
@click.option(
    "--period",
    help="ISO week such as 2019-W04, or for a daily newsletter a day such as 2019-01-21 "
    "(default: the one containing now).",
)
@click.option("--rebuild", is_flag=True, help="Replace a draft (never an approved or sent one).")
@pass_app
def digest_build(app: AppContext, period: str | None, rebuild: bool) -> None:
    """Build the week's digest: a frozen snapshot of stories and related coverage."""

    services = app.services
    if period:
        try:
            parse_period(period.upper())
        except ValueError as exc:
            try:
                parse_day(period)
            except ValueError:
                also = " (or a day such as 2019-01-21)"
                raise click.BadParameter(f"{exc}{also}", param_hint="--period") from None
        period = period.upper()
    result = build_digest(
        services.db,
        services.settings,
        services.now(),
        period,
        rebuild,
        newsletter=chosen_newsletter(),
    )
    failed = result.outcome in ("too_few", "locked", "too_big")
    click.echo(result.message, err=failed)
    if failed:
        raise SystemExit(1)


@digest_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def digest_list(app: AppContext, as_json: bool) -> None:
    """Digests, newest first, with their status and delivery counts."""

    rows = recent_digests(app.services.db, limit=100)
    if as_json:
        emit_json([r.__dict__ for r in rows])
        return
    table(
        ["id", "period", "status", "stories", "sent", "failed", "subject"],
        [
            (
                r.id,
                r.period_key,
                r.status,
                r.stories,
                r.deliveries.get("sent", 0),
                r.deliveries.get("failed", 0),
                r.subject,
            )
            for r in rows
        ],
    )


def digest_as_dict(digest) -> dict:
    return {
        "id": digest.id,
        "period": digest.period_key,
        "kind": digest.kind,
        "status": digest.status,
        "subject": digest.subject,
        "preheader": digest.preheader,
        "stories": [
            {
                "id": item.id,
                "position": item.position,
                "title": item.title,
                "url": item.url,
                "section": item.section,
                "score": item.score,
                "pinned": item.pinned,
                "related": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "url": r.url,
                        "score": r.score,
                        "context": r.context,
                        "published_at": r.published_at.isoformat(),
                    }
                    for r in item.related
                ],
            }
            for item in sorted(digest.items, key=lambda i: i.position)
        ],
    }


@digest_group.command("show")
@newsletter_option
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def digest_show(app: AppContext, ref: str, as_json: bool) -> None:
    """The stories of a digest and the related coverage under each."""

    data = digest_as_dict(find_digest(app.services.db, ref, chosen_newsletter()))
    if as_json:
        emit_json(data)
        return
    rows = []
    for story in data["stories"]:
        rows.append((story["position"] + 1, story["section"] or "", story["title"], story["score"]))
        for rel in story["related"]:
            rows.append(("", "  related", f"  {rel['title']} ({rel['context']})", rel["score"]))
    table(
        ["#", "section", "title", "score"],
        rows,
        title=f"{data['period']} · {data['status']} · {data['subject']}",
    )


@digest_group.command("preview")
@newsletter_option
@click.argument("ref")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "text", "eml"]), default="html", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@pass_app
def digest_preview(app: AppContext, ref: str, fmt: str, out: Path | None) -> None:
    """Exactly what a subscriber gets, with a sample subscriber's links; its "View in browser"
    opens a signed preview, which works before the issue is in the archive."""

    settings = app.services.settings
    digest = find_digest(app.services.db, ref, chosen_newsletter())
    message = sample_message(digest, settings, now=app.services.now())
    if fmt == "eml":
        data = message.as_bytes()
    else:
        data = (message.html if fmt == "html" else message.text).encode("utf-8")
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise MailerError(f"cannot write {out}: {exc.strerror}.") from None
    click.echo(f"Wrote {len(data)} bytes to {out}.", err=True)


@articles_group.command("related")
@click.argument("url_or_id")
@click.option("--k", default=None, type=click.IntRange(1, 20), help="How many (default: setting).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def articles_related(app: AppContext, url_or_id: str, k: int | None, as_json: bool) -> None:
    """What would be shown as related coverage for a stored article (by id or any link to it),
    and why."""

    services = app.services
    settings = services.settings
    with services.db.session() as session:
        article = find_article(session, url_or_id)
        if article is None:
            raise NotFound(f"no stored article {url_or_id} (give an id or a link to it).")
        related = related_for(session, settings, article, k or settings.digest_related)
        urls = dict(
            session.execute(
                select(Article.id, Article.url).where(Article.id.in_([r.doc.id for r in related]))
            ).all()
        )
    rows = [
        {
            "id": r.doc.id,
            "title": r.doc.title,
            "url": urls[r.doc.id],
            "score": r.score,
            "names": list(r.names),
            "terms": list(r.terms),
            "reason": r.reason,
            "section": r.doc.section,
            "published_at": r.doc.published_at.isoformat(),
        }
        for r in related
    ]
    if as_json:
        emit_json({"article": {"id": article.id, "title": article.title}, "related": rows})
        return
    click.echo(f"{article.title}")
    if not rows:
        click.echo("Nothing in the archive is close enough to show.")
        return
    table(
        ["id", "section", "title", "why"],
        [(r["id"], r["section"] or "", r["title"], r["reason"]) for r in rows],
    )
