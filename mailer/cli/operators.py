"""Operator commands: editor accounts and the suppression list."""

from __future__ import annotations

import click
from sqlalchemy import select

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.groups import suppressions_group
from mailer.cli.output import emit_json, table
from mailer.core.errors import MailerError
from mailer.core.models import Suppression
from mailer.editions.accounts import ROLES, add_editor, list_editors, remove_editor, set_password
from mailer.readers.suppressions import suppress, unsuppress


@main.group("editors")
def editors_group() -> None:
    """Editor accounts for the /admin pages."""


@editors_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True)
@click.password_option(help="Prompted when not given (at least 10 characters).")
@pass_app
def editors_add(app: AppContext, email: str, role: str, password: str) -> None:
    """Create an editor; the password is prompted and stored hashed."""
    services = app.services
    with services.db.session() as session:
        editor = add_editor(
            session,
            email,
            password,
            role,
            services.now(),
            cost=services.settings.editor_password_cost,
        )
    click.echo(f"Editor {editor.email} added ({editor.role}).")


@editors_group.command("password")
@click.argument("email")
@click.password_option(help="Prompted when not given (at least 10 characters).")
@pass_app
def editors_password(app: AppContext, email: str, password: str) -> None:
    """Set a new password; the editor's open sessions end."""
    services = app.services
    with services.db.session() as session:
        editor = set_password(
            session, email, password, services.now(), cost=services.settings.editor_password_cost
        )
    click.echo(f"Password of {editor.email} changed; their sessions have ended.")


@editors_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def editors_list(app: AppContext, as_json: bool) -> None:
    """List editor accounts."""
    with app.services.db.session() as session:
        rows = [
            {
                "email": e.email,
                "role": e.role,
                "active": e.active,
                "created_at": e.created_at.isoformat(),
                "last_login_at": e.last_login_at.isoformat() if e.last_login_at else None,
            }
            for e in list_editors(session)
        ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["email", "role", "active", "last login"],
        [(r["email"], r["role"], r["active"], r["last_login_at"] or "never") for r in rows],
    )


@editors_group.command("remove")
@click.argument("email")
@pass_app
def editors_remove(app: AppContext, email: str) -> None:
    """Delete an editor account."""
    with app.services.db.session() as session:
        remove_editor(session, email)
    click.echo(f"Editor {email} removed.")


@suppressions_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--reason", help="Only this reason (bounce, complaint, unsubscribe, manual, ...).")
@pass_app
def suppressions_list(app: AppContext, as_json: bool, reason: str | None) -> None:
    """List suppressed addresses (erased ones show only as a hash)."""
    query = select(Suppression).order_by(Suppression.created_at, Suppression.id)
    if reason:
        query = query.where(Suppression.reason == reason)
    with app.services.db.session() as session:
        rows = [
            {
                "address": s.email or f"(erased) {s.email_hash[:12]}…",
                "reason": s.reason,
                "source": s.source,
                "since": s.created_at.isoformat(),
            }
            for s in session.scalars(query)
        ]
    if as_json:
        emit_json(rows)
        return
    table(["address", "reason", "source", "since"], [tuple(r.values()) for r in rows])


@suppressions_group.command("add")
@click.argument("emails", nargs=-1, required=True)
@pass_app
def suppressions_add(app: AppContext, emails: tuple[str, ...]) -> None:
    """Never mail these addresses again."""
    services = app.services
    with services.db.session() as session:
        for email in emails:
            if "@" not in email:
                raise MailerError(f"{email!r} is not an email address.")
            suppress(session, email, "manual", services.now(), source="cli")
    click.echo(f"{len(emails)} address(es) suppressed.")


@suppressions_group.command("remove")
@click.argument("email")
@pass_app
def suppressions_remove(app: AppContext, email: str) -> None:
    """Lift a suppression (an erasure cannot be lifted)."""
    with app.services.db.session() as session:
        if not unsuppress(session, email):
            raise MailerError(f"{email} is not suppressed, or was erased on request.")
    click.echo(f"{email} may be mailed again.")
