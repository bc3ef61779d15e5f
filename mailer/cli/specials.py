"""`mailer special create|list|schedule`: special editions; `mailer digest ...` sends them."""

from __future__ import annotations

import click

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.newsletters import chosen_newsletter, newsletter_option
from mailer.cli.output import emit_json, table
from mailer.editions import specials

AT_HELP = "Send time in MAILER_TIMEZONE, such as '2026-12-03 09:30' (once approved)."


@main.group("special")
def special_group() -> None:
    """Special editions: an issue composed from chosen articles or one breaking story."""


@special_group.command("create")
@click.option("--title", required=True, help="The edition's title, which is its subject.")
@click.option("--article", "articles", type=int, multiple=True, help="An article id (repeat).")
@click.option("--breaking", type=int, help="One breaking story's id, with its related coverage.")
@click.option("--at", "at", help=AT_HELP)
@click.option("--as", "actor", default="cli", show_default=True, help="Who composes it.")
@newsletter_option
@pass_app
def special_create(
    app: AppContext,
    title: str,
    articles: tuple[int, ...],
    breaking: int | None,
    at: str | None,
    actor: str,
) -> None:
    """Compose a draft special edition; preview, check, approve and send it with `mailer digest`."""
    services = app.services
    digest = specials.create_special(
        services.db,
        services.settings,
        services.now(),
        title,
        actor,
        article_ids=articles,
        breaking=breaking,
        scheduled_for=specials.parse_when(at, services.settings.zone),
        newsletter=chosen_newsletter(),
    )
    stories = len(digest.items)
    related = sum(len(i.related) for i in digest.items)
    click.echo(
        f"{digest.period_key} composed: {stories} stor{'y' if stories == 1 else 'ies'}, "
        f"{related} related. Next: mailer digest preview {digest.period_key}, "
        f"mailer digest check {digest.period_key}, mailer digest approve {digest.period_key}."
    )


@special_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def special_list(app: AppContext, as_json: bool) -> None:
    """Special editions, newest first, with their status and send time."""
    rows = [
        {
            "id": d.id,
            "period": d.period_key,
            "status": d.status,
            "stories": len(d.items),
            "scheduled_for": d.scheduled_for.isoformat() if d.scheduled_for else None,
            "subject": d.subject,
        }
        for d in specials.list_specials(app.services.db)
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["id", "edition", "status", "stories", "send at (UTC)", "subject"],
        [
            (
                r["id"],
                r["period"],
                r["status"],
                r["stories"],
                r["scheduled_for"] or "",
                r["subject"],
            )
            for r in rows
        ],
    )


@special_group.command("schedule")
@click.argument("ref")
@click.option("--at", "at", help=AT_HELP)
@click.option("--clear", is_flag=True, help="Remove the send time: only `digest send` sends it.")
@click.option("--as", "actor", default="cli", show_default=True, help="Who sets it.")
@pass_app
def special_schedule(app: AppContext, ref: str, at: str | None, clear: bool, actor: str) -> None:
    """Set when an approved special edition goes (the scheduler's tick starts it)."""
    if bool(at) == clear:
        raise click.UsageError("give --at TIME or --clear.")
    services = app.services
    when = None if clear else specials.parse_when(at, services.settings.zone)
    digest = specials.schedule(services.db, ref, when, actor, services.now())
    if digest.scheduled_for is None:
        click.echo(f"{digest.period_key} has no send time: send it with mailer digest send.")
    else:
        local = digest.scheduled_for.astimezone(services.settings.zone)
        click.echo(f"{digest.period_key} goes at {local:%Y-%m-%d %H:%M} once approved.")
