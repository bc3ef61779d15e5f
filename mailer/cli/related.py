"""`mailer related evaluate`: coverage and precision of related coverage on judged stories."""

from __future__ import annotations

from pathlib import Path

import click

from mailer.cli.base import AppContext, pass_app
from mailer.cli.groups import related_group
from mailer.cli.output import emit_json
from mailer.core.errors import MailerError
from mailer.editions.judgments import desk_judgments, evaluate, read_judgments
from mailer.editions.tuning import tune


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


@related_group.command("tune")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Judgments to fit on (default: the editors' choices recorded on the desk).",
)
@click.option(
    "--precision",
    "target",
    default=0.75,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="The precision the cut must keep on the fitting half.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def related_tune(app: AppContext, path: Path | None, target: float, as_json: bool) -> None:
    """Fit where related coverage cuts on half the judged stories; report it on the other half
    beside the current defaults (RelatedParams in mailer/content/related.py)."""

    services = app.services
    judgments = read_judgments(path) if path else desk_judgments(services.db)
    if not judgments:
        raise MailerError("no judgments yet: give --file, or let editors work on the desk.")
    tuned = tune(services.db, services.settings, judgments, target)
    cut = {
        "floor": tuned.params.floor,
        "background": tuned.params.background,
        "relative": tuned.params.relative,
        "enough": tuned.params.enough,
    }
    if as_json:
        emit_json(
            {
                "params": cut,
                "fit": tuned.fit.as_dict(),
                "held_out": tuned.held_out.as_dict(),
                "defaults_held_out": tuned.default_held_out.as_dict(),
            }
        )
        return
    click.echo("Fitted cut: " + ", ".join(f"{k}={v}" for k, v in cut.items()))
    for label, figures in (
        ("fitting half", tuned.fit),
        ("held-out half", tuned.held_out),
        ("held-out, defaults", tuned.default_held_out),
    ):
        click.echo(
            f"{label}: coverage {figures.helped}/{figures.answerable} ({figures.coverage:.0%}), "
            f"precision {figures.relevant_shown}/{figures.judged_shown} ({figures.precision:.0%})"
        )
