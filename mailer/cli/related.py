"""`mailer related evaluate`: coverage and precision of related coverage on judged stories."""

from __future__ import annotations

from pathlib import Path

import click

from mailer.cli import AppContext, pass_app
from mailer.cli.groups import related_group
from mailer.cli.output import emit_json
from mailer.core.errors import MailerError


@related_group.command("evaluate")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Judgments (JSON Lines or CSV: story, candidate, grade 0-2, reason) instead of the "
    "editors' choices recorded on the desk.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def related_evaluate(app: AppContext, path: Path | None, as_json: bool) -> None:
    """Stories helped (something related shown, of those with something related judged) and
    precision (share of the judged pieces shown that are related)."""
    from mailer.editions.judgments import desk_judgments, evaluate, read_judgments

    services = app.services
    judgments = read_judgments(path) if path else desk_judgments(services.db)
    if not judgments:
        raise MailerError(
            "no judgments yet: editors add and remove related pieces on the desk, or give --file."
        )
    figures = evaluate(services.db, services.settings, judgments)
    if as_json:
        emit_json(figures.as_dict())
        return
    source = str(path) if path else "the editors' choices on the desk"
    click.echo(f"Judgments: {len(judgments)} from {source}.")
    click.echo(
        f"Coverage: {figures.helped} of {figures.answerable} stories with related pieces "
        f"judged show at least one ({figures.coverage:.0%})."
    )
    click.echo(
        f"Precision: {figures.relevant_shown} of {figures.judged_shown} judged pieces shown "
        f"are related ({figures.precision:.0%}); {figures.shown - figures.judged_shown} "
        "shown were never judged."
    )
    if figures.missing:
        click.echo(
            f"Not stored, so left out: {len(figures.missing)} links, such as {figures.missing[0]}.",
            err=True,
        )
