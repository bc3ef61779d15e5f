"""`mailer segments list|add|show|remove`, `mailer digest target`, `mailer sunset preview|run`."""

from __future__ import annotations

import click

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.groups import digest_group
from mailer.cli.output import emit_json, table
from mailer.delivery.ledger import digest_reader_count, reader_count
from mailer.editions.digests import find_digest
from mailer.editions.targeting import target_segment
from mailer.readers import segments, sunset


@main.group("segments")
def segments_group() -> None:
    """Saved reader segments a send may target."""


@segments_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def segments_list(app: AppContext, as_json: bool) -> None:
    """Every segment, its rules in words, and how many readers it holds now."""
    db = app.services.db
    rows = [
        {"slug": s.slug, "name": s.name, "rules": s.rules, "readers": reader_count(db, s.rules)}
        for s in segments.list_segments(db)
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["slug", "name", "readers", "rules"],
        [(r["slug"], r["name"], r["readers"], segments.describe(r["rules"])) for r in rows],
    )


@segments_group.command("add")
@click.argument("name")
@click.option("--slug", default="", help="How sends name it (default: from the name).")
@click.option("--source", help="Signup sources, comma-separated (subscribers' origin).")
@click.option("--confirmed-since", help="Confirmed on or after this date (YYYY-MM-DD, UTC).")
@click.option("--language", help="Reader languages, comma-separated.")
@click.option("--clicked-in", type=int, help="Clicked a link in the last N issues.")
@click.option("--not-clicked-in", type=int, help="Clicked no link in the last N issues.")
@pass_app
def segments_add(
    app: AppContext,
    name: str,
    slug: str,
    source: str | None,
    confirmed_since: str | None,
    language: str | None,
    clicked_in: int | None,
    not_clicked_in: int | None,
) -> None:
    """Save a named segment from these rules (all must hold)."""
    services = app.services
    rules = {
        "source": source,
        "confirmed_since": confirmed_since,
        "language": language,
        "clicked_in_last_n_issues": clicked_in,
        "not_clicked_in_last_n_issues": not_clicked_in,
    }
    view = segments.add_segment(
        services.db,
        name,
        rules,
        services.settings.click_tracking,
        services.now(),
        slug,
        segments.offered_languages(services.settings),
    )
    count = reader_count(services.db, view.rules)
    click.echo(f"Segment {view.slug} saved: {view.describe()}. {count} readers now.")


@segments_group.command("show")
@click.argument("slug")
@click.option("--count", "with_count", is_flag=True, help="Count its readers now.")
@pass_app
def segments_show(app: AppContext, slug: str, with_count: bool) -> None:
    """One segment's rules (and, with --count, how many readers a send to it reaches now)."""
    view = segments.find_segment(app.services.db, slug)
    click.echo(f"{view.slug}: {view.name}\nrules: {view.describe()}")
    if with_count:
        click.echo(f"readers now: {reader_count(app.services.db, view.rules)}")


@segments_group.command("remove")
@click.argument("slug")
@pass_app
def segments_remove(app: AppContext, slug: str) -> None:
    """Remove a segment no unsent issue targets."""
    view = segments.remove_segment(app.services.db, slug)
    click.echo(f"Segment {view.slug} removed.")


@digest_group.command("target")
@click.argument("ref")
@click.option("--segment", "slug", help="The segment's slug.")
@click.option("--all", "everyone", is_flag=True, help="Every reader again (no segment).")
@pass_app
def digest_target(app: AppContext, ref: str, slug: str | None, everyone: bool) -> None:
    """Send a draft or approved issue to a saved segment, and say how many readers that is."""
    if bool(slug) == everyone:
        raise click.UsageError("say which: --segment SLUG or --all")
    services = app.services
    digest = find_digest(services.db, ref)
    message = target_segment(services.db, digest.id, slug, "cli", services.now())
    count = digest_reader_count(services.db, digest.id)
    click.echo(f"{message} {count} readers now.")


@main.group("sunset")
def sunset_group() -> None:
    """Re-engage, then pause, readers who click nothing (MAILER_SUNSET)."""


def _counts_line(counts: sunset.SunsetCounts, verb: tuple[str, str]) -> str:
    return f"{counts.mail} readers {verb[0]} the re-engagement mail, {counts.pause} {verb[1]}."


@sunset_group.command("preview")
@pass_app
def sunset_preview(app: AppContext) -> None:
    """How many readers a run now would mail and pause (works with sunsetting off)."""
    counts = sunset.preview(app.services.db, app.services.settings)
    click.echo(_counts_line(counts, ("would get", "would be paused")))
    if not counts.ready:
        click.echo("Per-reader clicks are off (MAILER_CLICK_TRACKING): nobody can be judged.")
    if not counts.on:
        click.echo("MAILER_SUNSET is off: nothing happens until it is turned on.")


@sunset_group.command("run")
@pass_app
def sunset_run(app: AppContext) -> None:
    """Mail and pause now, as the scheduler does once a day; needs MAILER_SUNSET on."""
    settings = app.services.settings
    if not settings.sunset or settings.click_tracking != "per_reader":
        raise click.ClickException(
            "sunsetting is off: set MAILER_SUNSET=true (with MAILER_CLICK_TRACKING=per_reader)."
        )
    counts = sunset.run(app.services.db, settings, app.services.now())
    click.echo(_counts_line(counts, ("were queued", "were paused")))
