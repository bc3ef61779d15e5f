"""`mailer digest check REF`: the pre-send check of one digest, as a reader would get it."""

from __future__ import annotations

import click

from mailer.cli.base import AppContext, pass_app
from mailer.cli.groups import digest_group
from mailer.cli.output import emit_json
from mailer.delivery.precheck import check_digest, wants_spamassassin
from mailer.editions.digests import find_digest

MARKS = {"error": "ERROR", "warning": "warning", "note": "note"}


@digest_group.command("check")
@click.argument("ref")
@click.option("--no-spamassassin", is_flag=True, help="Skip SpamAssassin even when installed.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def digest_check(app: AppContext, ref: str, no_spamassassin: bool, as_json: bool) -> None:
    """Check one sample of a digest before it is sent; exit 1 when an error would block it."""
    services = app.services
    digest = find_digest(services.db, ref)
    spam = wants_spamassassin(services.settings) and not no_spamassassin
    report = check_digest(digest, services.settings, services.transport, spamassassin=spam)
    if as_json:
        emit_json(report.as_dict())
    else:
        for finding in report.findings:
            click.echo(f"{MARKS[finding.level]:7}  {finding.check}: {finding.sentence}")
        if report.spam is not None:
            click.echo(f"SpamAssassin rules ({report.spam.tool}):")
            for rule in report.spam.rules:
                click.echo(f"  {rule.points:+5.1f}  {rule.name}  {rule.description}")
        errors, warnings = len(report.errors), len(report.warnings)
        verdict = "blocks the send" if errors else "the send may start"
        counts = f"{_many(errors, 'error')}, {_many(warnings, 'warning')}"
        click.echo(f"{report.period_key}: {counts}; {verdict}.")
    if report.errors:
        raise SystemExit(1)


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
