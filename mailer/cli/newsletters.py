"""`mailer newsletters list|add|edit`, and the --newsletter option of the digest commands."""

from __future__ import annotations

import click
from sqlalchemy import select

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.output import emit_json, table
from mailer.core.models import NEWSLETTER_CADENCES, Newsletter
from mailer.readers import newsletters


def _remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    ctx.meta["newsletter"] = value
    return value


newsletter_option = click.option(
    "--newsletter",
    metavar="SLUG",
    expose_value=False,
    callback=_remember,
    help="Which newsletter a week or day names (default: the site's default newsletter).",
)


def chosen_newsletter() -> str | None:
    """The --newsletter of the running command, if it was given."""
    return click.get_current_context().meta.get("newsletter")


@main.group("newsletters")
def newsletters_group() -> None:
    """Newsletters readers choose: list, add, edit."""


@newsletters_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def newsletters_list(app: AppContext, as_json: bool) -> None:
    """Every newsletter, the default first, with its cadence and active readers."""
    db = app.services.db
    counts = newsletters.reader_counts(db)
    with db.session() as session:
        rows = session.scalars(
            select(Newsletter).order_by(Newsletter.is_default.desc(), Newsletter.name)
        ).all()
    data = [
        {
            "slug": n.slug,
            "name": n.name,
            "default": n.is_default,
            "cadence": n.cadence,
            "day": newsletters.DAYS[n.send_day] if n.send_day is not None else None,
            "hour": n.send_hour,
            "topics": n.topics,
            "from_name": n.from_name,
            "from_address": n.from_address,
            "readers": counts.get(n.id, 0),
            "description": n.description,
        }
        for n in rows
    ]
    if as_json:
        emit_json(data)
        return
    table(
        ["slug", "name", "default", "cadence", "readers", "topics"],
        [
            (
                d["slug"],
                d["name"],
                "yes" if d["default"] else "",
                _when(d),
                d["readers"],
                d["topics"],
            )
            for d in data
        ],
    )


def _when(d: dict) -> str:
    parts = [d["cadence"]]
    if d["day"] and d["cadence"] == "weekly":
        parts.append(d["day"])
    if d["hour"] is not None and d["cadence"] != "manual":
        parts.append(f"{d['hour']:02d}:00")
    return " ".join(parts)


def _fields(f):
    """The options add and edit share."""
    options = [
        click.option("--description", help="One sentence readers see beside the name."),
        click.option("--topics", help="Sections its stories come from, comma-separated."),
        click.option("--cadence", type=click.Choice(NEWSLETTER_CADENCES)),
        click.option("--day", type=click.Choice(newsletters.DAYS), help="Weekly: the day."),
        click.option("--hour", type=click.IntRange(0, 23), help="The hour, site time zone."),
        click.option("--from-name", help="Sender name (default: MAILER_FROM_ADDR's)."),
        click.option("--from-address", help="Sender address (default: MAILER_FROM_ADDR's)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _values(description, topics, cadence, day, hour, from_name, from_address) -> dict:
    return {
        "description": description,
        "topics": topics,
        "cadence": cadence,
        "send_day": newsletters.DAYS.index(day) if day else None,
        "send_hour": hour,
        "from_name": from_name,
        "from_address": from_address,
    }


@newsletters_group.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="What readers see, such as 'Morning Brief'.")
@_fields
@pass_app
def newsletters_add(app: AppContext, slug: str, name: str, **fields) -> None:
    """Add a newsletter; readers choose it on Join and in their preferences."""
    values = {k: v for k, v in _values(**fields).items() if v is not None}
    row = newsletters.add(app.services.db, app.services.now(), slug=slug, name=name, **values)
    click.echo(f"Newsletter {row.slug} added ({row.cadence}).")


@newsletters_group.command("edit")
@click.argument("slug")
@click.option("--name", help="A new name (the slug never changes: consent records name it).")
@click.option("--default", "make_default", is_flag=True, help="Make it the site's default.")
@_fields
@pass_app
def newsletters_edit(
    app: AppContext, slug: str, name: str | None, make_default: bool, **fields
) -> None:
    """Change a newsletter's name, description, topics, cadence or sender."""
    values = _values(**fields)
    row = newsletters.edit(
        app.services.db, slug, app.services.now(), name=name, default=make_default, **values
    )
    click.echo(f"Newsletter {row.slug} saved.")
