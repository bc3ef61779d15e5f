"""`mailer subscribers import|export|count`: the operator's bulk tools."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailer.cli.base import AppContext, pass_app
from mailer.cli.groups import subscribers_group
from mailer.cli.output import emit_json, is_terminal, table
from mailer.core.errors import MailerError
from mailer.core.models import SUBSCRIBER_STATUSES
from mailer.editions.figures import subscriber_counts
from mailer.readers import newsletters
from mailer.readers.roster import export_subscribers, import_subscribers, read_rows


@subscribers_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--confirmed",
    is_flag=True,
    help="The readers already opted in elsewhere: import them as confirmed. Without it they are "
    "stored as pending, get no digest and are sent no confirmation mail.",
)
@click.option(
    "--newsletter",
    "slugs",
    multiple=True,
    metavar="SLUG",
    help="With --confirmed: subscribe the new readers to this newsletter (repeat for several; "
    "default: the default newsletter).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def subscribers_import(
    app: AppContext, csv_file: Path, confirmed: bool, slugs: tuple[str, ...], as_json: bool
) -> None:
    """Add subscribers from a CSV with an `email` column (and optional `first_name`).

    Without --confirmed every new reader stays pending: nothing is mailed to them until they
    join through the form themselves (and choose their newsletters there).
    """
    services = app.services
    if slugs and not confirmed:
        raise MailerError(
            "--newsletter needs --confirmed: pending readers take no newsletter until they "
            "join through the form and choose."
        )
    chosen = newsletters.resolve(services.db, slugs) if slugs else ()
    if not confirmed and not as_json and is_terminal():
        click.confirm(
            "Without --confirmed the new readers stay pending: no digest and no confirmation "
            "mail until they join through the form. Import them as pending?",
            abort=True,
        )
    try:
        handle = csv_file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise MailerError(f"cannot read {csv_file}: {exc.strerror}.") from None
    with handle:
        try:
            if is_terminal() and not as_json:
                report = _import_with_progress(services, handle, confirmed, chosen)
            else:
                report = import_subscribers(
                    services.db,
                    read_rows(handle),
                    services.now(),
                    confirmed=confirmed,
                    newsletter_ids=chosen,
                )
        except UnicodeDecodeError:
            raise MailerError(f"{csv_file} is not UTF-8 text.") from None
    if as_json:
        emit_json(
            {
                "added": report.added,
                "existing": report.existing,
                "suppressed": report.suppressed,
                "duplicates": report.duplicates,
                "invalid": [{"line": n, "error": e} for n, e in report.invalid],
                "names_dropped": [
                    {"line": n, "value": v, "error": e} for n, v, e in report.names_dropped
                ],
                "status": "confirmed" if confirmed else "pending",
            }
        )
    else:
        for line, error in report.invalid[:50]:
            click.echo(f"line {line}: skipped: {error}", err=True)
        if len(report.invalid) > 50:
            click.echo(f"... and {len(report.invalid) - 50} more invalid rows", err=True)
        for line, value, error in report.names_dropped[:50]:
            click.echo(f"line {line}: imported without the name {value!r}: {error}", err=True)
        if len(report.names_dropped) > 50:
            click.echo(f"... and {len(report.names_dropped) - 50} more names left out", err=True)
        click.echo(
            f"{report.added} added, {report.existing} already stored, "
            f"{report.suppressed} suppressed (not added), {report.duplicates} repeated in the "
            f"file, {len(report.invalid)} invalid, {len(report.names_dropped)} names left out."
        )
        if report.added and not confirmed:
            click.echo(
                f"The {report.added} added readers are pending: they get no digest and no "
                "confirmation mail until they join through the form. If they opted in "
                "elsewhere, the file needed --confirmed; an import never changes stored rows, "
                "so confirm each of them with `mailer subscribers forget` and "
                "`mailer subscribers add --confirmed`, or let them join.",
                err=True,
            )


def _import_with_progress(services, handle, confirmed, chosen):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    total = max(sum(1 for _ in handle) - 1, 0)
    handle.seek(0)
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), transient=True
    ) as progress:
        task = progress.add_task("import", total=total)
        return import_subscribers(
            services.db,
            read_rows(handle),
            services.now(),
            confirmed=confirmed,
            newsletter_ids=chosen,
            progress=lambda n: progress.advance(task, n),
        )


@subscribers_group.command("export")
@click.option("--status", "statuses", multiple=True, type=click.Choice(SUBSCRIBER_STATUSES))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@pass_app
def subscribers_export(app: AppContext, statuses: tuple[str, ...], out: Path | None) -> None:
    """Write subscribers as CSV."""
    if out is None:
        export_subscribers(app.services.db, sys.stdout, statuses)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        count = export_subscribers(app.services.db, handle, statuses)
    click.echo(f"{count} subscribers written to {out}.", err=True)


@subscribers_group.command("count")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def subscribers_count(app: AppContext, as_json: bool) -> None:
    """Subscribers per status."""
    counts = subscriber_counts(app.services.db)
    if as_json:
        emit_json(counts)
        return
    table(["status", "subscribers"], counts.items())
