"""`mailer sources list|add|remove` and `mailer articles ingest|import|list|stats import`."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import delete, select

from mailer.cli.base import AppContext, pass_app
from mailer.cli.groups import articles_group, sources_group
from mailer.cli.output import emit_json, table
from mailer.content.calendar import period_bounds
from mailer.content.sources.canonical import is_http
from mailer.content.sources.files import import_articles, import_stats
from mailer.content.sources.ingest import ensure_source, ingest_all
from mailer.core.errors import MailerError, NotFound
from mailer.core.models import Article, Source


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def sources_list(app: AppContext, as_json: bool) -> None:
    """Each source's health: last success, failures in a row, last error."""
    services = app.services
    configured = set(services.settings.sources)
    with services.db.session() as session:
        stored = {s.url: s for s in session.scalars(select(Source).order_by(Source.url))}
        rows = []
        for url in sorted(configured | set(stored)):
            s = stored.get(url)
            rows.append(
                {
                    "url": url,
                    "kind": s.kind if s else ("wordpress" if url.startswith("wp+") else "rss"),
                    "configured": url in configured,
                    "last_success_at": s.last_success_at.isoformat()
                    if s and s.last_success_at
                    else None,
                    "consecutive_failures": s.consecutive_failures if s else 0,
                    "last_error": s.last_error if s else None,
                }
            )
    if as_json:
        emit_json(rows)
        return
    table(
        ["url", "kind", "last success", "failures", "last error"],
        [
            (
                r["url"],
                r["kind"],
                r["last_success_at"] or "never",
                r["consecutive_failures"],
                r["last_error"] or "",
            )
            for r in rows
        ],
    )


@sources_group.command("add")
@click.argument("url")
@pass_app
def sources_add(app: AppContext, url: str) -> None:
    """Remember a source (RSS/Atom URL or wp+https://site/wp-json)."""

    if not is_http(url.removeprefix("wp+")):
        raise click.BadParameter("give an http(s) feed URL or wp+https://site/wp-json")
    ensure_source(app.services.db, url, app.services.now())
    click.echo(f"Source {url} added; `mailer articles ingest` fetches it now.")


@sources_group.command("remove")
@click.argument("url")
@pass_app
def sources_remove(app: AppContext, url: str) -> None:
    """Forget a source (its articles stay)."""
    with app.services.db.session() as session:
        if not session.execute(delete(Source).where(Source.url == url)).rowcount:
            raise NotFound(f"no stored source {url}.")
    click.echo(f"Source {url} removed.")


@articles_group.command("ingest")
@click.argument("urls", nargs=-1)
@pass_app
def articles_ingest(app: AppContext, urls: tuple[str, ...]) -> None:
    """Fetch every source now (or only the URLs given)."""

    services = app.services
    reports = ingest_all(
        services.db, services.http, services.settings, services.now(), list(urls) or None
    )
    if not reports:
        click.echo("No sources: set MAILER_SOURCES or run `mailer sources add URL`.")
        return
    for report in reports:
        click.echo(str(report))
        for note in report.notes:
            click.echo(f"  note: {note}")
    failed = [r for r in reports if r.error]
    if failed:
        raise MailerError(f"{len(failed)} of {len(reports)} sources failed; see above.")


def _print_file_report(report, what: str) -> None:
    for line, error in report.errors[:50]:
        click.echo(f"line {line}: skipped: {error}", err=True)
    click.echo(
        f"{report.stored} {what} stored, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} skipped."
    )


@articles_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def articles_import(app: AppContext, path: Path) -> None:
    """Store articles from JSON Lines or CSV (url, title, summary, published_at, ...)."""

    _print_file_report(import_articles(app.services.db, path, app.services.now()), "articles")


@articles_group.group("stats")
def stats_group() -> None:
    """Engagement figures from the site's analytics."""


@stats_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def stats_import(app: AppContext, path: Path) -> None:
    """Views per article URL (optionally shares, comments, clicks), from CSV or JSON Lines."""

    _print_file_report(import_stats(app.services.db, path, app.services.now()), "figures")


@articles_group.command("list")
@click.option("--week", help="Only this ISO week, e.g. 2019-W04.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def articles_list(app: AppContext, week: str | None, as_json: bool) -> None:
    """Stored articles, newest first."""

    services = app.services
    query = select(Article).order_by(Article.published_at.desc()).limit(500)
    if week:
        try:
            start, end = period_bounds(week.upper(), services.settings.zone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--week") from None
        query = query.where(Article.published_at >= start, Article.published_at < end)
    with services.db.session() as session:
        rows = [
            {
                "id": a.id,
                "published_at": a.published_at.isoformat(),
                "section": a.section,
                "title": a.title,
                "url": a.url,
                "views": a.stats.views if a.stats else 0,
                "editor_pick": bool(a.stats and a.stats.editor_pick),
            }
            for a in session.scalars(query)
        ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["id", "published", "section", "views", "pick", "title"],
        [
            (
                r["id"],
                r["published_at"][:16],
                r["section"] or "",
                r["views"],
                "yes" if r["editor_pick"] else "",
                r["title"],
            )
            for r in rows
        ],
    )
