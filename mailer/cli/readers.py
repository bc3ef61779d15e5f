"""`mailer subscribers add|remove|forget|show` and `mailer inbound`: one reader or mail."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

import click

from mailer.cli.base import AppContext, main, pass_app
from mailer.cli.groups import subscribers_group
from mailer.cli.output import emit_json, table
from mailer.core.errors import MailerError, NotFound
from mailer.core.models import Subscriber
from mailer.delivery.inbound import MAX_MAIL_BYTES, handle_mail
from mailer.readers.privacy import forget, forget_suppressed_address
from mailer.readers.roster import describe_subscriber, suppression_of
from mailer.readers.subscriptions import add_by_operator, find_subscriber, unsubscribe
from mailer.readers.validation import InvalidInput, normalise_email
from mailer.services import Services

PARAM_HINTS = {"email": "'EMAIL'", "first_name": "'--name'"}


def operator_name() -> str:
    """Who ran the command, for the consent record (the login name, as the shell knows it)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _address(raw: str) -> str:
    """The normalised address, or exit 2 with the readers' own sentence about what is wrong."""
    try:
        return normalise_email(raw)
    except InvalidInput as exc:
        raise click.BadParameter(exc.message, param_hint=PARAM_HINTS["email"]) from None


def _local(services: Services, iso: str | None) -> str:
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso).astimezone(services.settings.zone)
    return f"{moment:%Y-%m-%d %H:%M %Z}"


def _suppression_sentence(services: Services, address: str, found: dict[str, Any]) -> str:
    when = _local(services, found["since"])
    if found["reason"] == "erased":
        return f"{address} was erased on request ({when}); only its hash is kept, to block it."
    return f"{address} is on the suppression list ({found['reason']}, since {when})."


def _refusal(services: Services, address: str, found: dict[str, Any]) -> str:
    """Why a suppressed address is not added, and the way out when there is one."""
    if found["reason"] == "erased":
        return _suppression_sentence(services, address, found) + " It cannot be added again."
    return (
        _suppression_sentence(services, address, found)
        + " Nothing was added; `mailer suppressions remove` lifts it if the reader asked."
    )


def _suppressed_only(services: Services, address: str) -> bool:
    found = suppression_of(services.db, address)
    return found is not None and found["reason"] != "erased"


def _stored(services: Services, raw: str) -> tuple[str, Subscriber]:
    """The subscriber an operator named, or exit 1 with what is known about the address."""
    address = _address(raw)
    sub = find_subscriber(services.db, address)
    if sub is not None:
        return address, sub
    found = suppression_of(services.db, address)
    if found is None:
        raise NotFound(f"{address} is not a subscriber.")
    if found["reason"] == "erased":
        raise NotFound(_suppression_sentence(services, address, found))
    raise NotFound(
        f"{address} is not a subscriber. {_suppression_sentence(services, address, found)}"
    )


def _state(services: Services, sub: Subscriber) -> str:
    """One phrase for a stored subscriber's state, with the date it began."""
    if sub.status == "pending":
        return f"waiting for confirmation since {_local(services, sub.created_at.isoformat())}"
    if sub.status == "confirmed" and sub.confirmed_at:
        return f"confirmed since {_local(services, sub.confirmed_at.isoformat())}"
    if sub.status == "unsubscribed" and sub.unsubscribed_at:
        return f"unsubscribed since {_local(services, sub.unsubscribed_at.isoformat())}"
    return sub.status


@subscribers_group.command("add")
@click.argument("email")
@click.option("--name", help="First name for the greeting: letters, spaces, ' and -, up to 60.")
@click.option(
    "--confirmed",
    is_flag=True,
    help="The reader opted in elsewhere: store them confirmed and send no confirmation mail.",
)
@click.option(
    "--newsletter",
    "chosen",
    metavar="SLUG",
    multiple=True,
    help="A newsletter they take; repeat for several (default: the site's default newsletter).",
)
@pass_app
def subscribers_add(
    app: AppContext, email: str, name: str | None, confirmed: bool, chosen: tuple[str, ...]
) -> None:
    """Add one reader; without --confirmed they get a confirmation mail (double opt-in)."""
    services = app.services
    address = _address(email)
    try:
        outcome = add_by_operator(
            services.db,
            services.settings,
            address,
            name,
            services.now(),
            confirmed=confirmed,
            operator=operator_name(),
            newsletters=chosen,
        )
    except InvalidInput as exc:
        raise click.BadParameter(exc.message, param_hint=PARAM_HINTS.get(exc.field)) from None
    if outcome.result == "suppressed":
        found = suppression_of(services.db, address) or {"reason": "suppressed", "since": None}
        raise MailerError(_refusal(services, address, found))
    if outcome.result == "already":
        sub = find_subscriber(services.db, address)
        state = _state(services, sub) if sub else "stored"
        if sub is None or sub.status not in ("pending", "confirmed"):
            raise MailerError(
                f"{address} is already stored ({state}); nothing changed. "
                "Only the reader can join again, through the form."
            )
        click.echo(f"{address} is already a subscriber ({state}); nothing changed.")
        return
    if outcome.result == "done":
        click.echo(f"{address} added as a confirmed subscriber.")
    elif outcome.result == "queued":
        click.echo(
            f"{address} added as pending; a confirmation mail is queued "
            "(the scheduler sends it, or run `mailer outbox send`)."
        )
    else:  # limited: cannot happen for a new address, but say so plainly if it does
        click.echo(f"{address} added as pending; no confirmation mail now ({outcome.result}).")


@subscribers_group.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: AppContext, email: str) -> None:
    """Unsubscribe a reader at once; the withdrawal is recorded as made by an operator."""
    services = app.services
    address, sub = _stored(services, email)
    outcome = unsubscribe(services.db, sub.id, "operator", services.now())
    if outcome.result == "already":
        click.echo(f"{address} is already {_state(services, sub)}; nothing changed.")
        return
    if outcome.result != "done":
        raise MailerError(f"{address} could not be unsubscribed ({outcome.result}).")
    click.echo(f"{address} is unsubscribed: no more digests. The withdrawal is recorded.")


@subscribers_group.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Erase without asking.")
@pass_app
def subscribers_forget(app: AppContext, email: str, yes: bool) -> None:
    """Erase a reader's personal data for good; the address stays only as a blocking hash."""
    services = app.services
    address = _address(email)
    if find_subscriber(services.db, address) is None and _suppressed_only(services, address):
        if not yes:
            click.confirm(
                f"{address} is only on the suppression list. Erase it for good?", abort=True
            )
        forget_suppressed_address(services.db, address, services.now(), by="operator")
    else:
        address, sub = _stored(services, email)
        if not yes:
            click.confirm(
                f"Erase {address} ({sub.status}) for good? This cannot be undone.", abort=True
            )
        forget(services.db, sub.id, services.now(), by="operator")
    click.echo(
        f"{address} erased: no personal data is left. Its hash stays on the suppression list, "
        "so it cannot be added or imported again."
    )


@subscribers_group.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def subscribers_show(app: AppContext, email: str, as_json: bool) -> None:
    """One reader's state, consent records and deliveries, to answer them or a regulator."""
    services = app.services
    _, sub = _stored(services, email)
    data = describe_subscriber(
        services.db, sub.id, services.now(), services.settings.ip_retention_days
    )
    if as_json:
        emit_json(data)
        return
    suppressed = data["suppressed"]
    lines = [
        ("address", data["email"]),
        ("name", data["first_name"] or "-"),
        ("status", data["status"]),
        ("paused", "yes" if data["paused"] else "no"),
        ("joined via", data["joined_via"]),
        ("created", _local(services, data["created_at"])),
        ("confirmed", _local(services, data["confirmed_at"])),
        ("unsubscribed", _local(services, data["unsubscribed_at"])),
        (
            "suppressed",
            f"yes ({suppressed['reason']}, since {_local(services, suppressed['since'])})"
            if suppressed
            else "no",
        ),
    ]
    taken = [
        n["slug"] if n["status"] == "active" else f"{n['slug']} (left)" for n in data["newsletters"]
    ]
    lines.append(("newsletters", ", ".join(taken) or "-"))
    for label, value in lines:
        click.echo(f"{label + ':':<14}{value}")
    deliveries = data["deliveries"]
    by_status = ", ".join(f"{n} {status}" for status, n in deliveries["by_status"].items())
    total = f"{deliveries['total']} ({by_status})" if by_status else "0"
    click.echo(f"{'deliveries:':<14}{total}")
    click.echo()
    retention = services.settings.ip_retention_days
    table(
        ["when", "record", "ip", "detail"],
        [
            (
                _local(services, e["at"]),
                e["kind"],
                f"(dropped after {retention} days)" if e["ip_expired"] else e["ip"] or "-",
                _detail(e),
            )
            for e in data["consent_events"]
        ],
        title="consent records",
    )
    if deliveries["recent"]:
        click.echo()
        table(
            ["digest", "status", "when"],
            [(d["digest"], d["status"], _local(services, d["at"])) for d in deliveries["recent"]],
            title="latest deliveries",
        )


def _detail(event: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in (event["detail"] or {}).items()]
    if event["origin"]:
        parts.append(f"from {event['origin']}")
    if event["captcha"]:
        parts.append(f"captcha {event['captcha']}")
    return "; ".join(parts)


@main.command("inbound")
@click.argument("mail", type=click.File("rb"), default="-")
@click.option(
    "--recipient",
    envvar="ORIGINAL_RECIPIENT",
    default="",
    help="The envelope address the mail came to (Postfix sets ORIGINAL_RECIPIENT for a pipe); "
    "with MAILER_BOUNCE_VERP it names the message a bounce is about.",
)
@pass_app
def inbound(app: AppContext, mail, recipient: str) -> None:
    """Act on one mail to MAILER_UNSUBSCRIBE_ADDRESS or MAILER_BOUNCE_ADDRESS: a file, or
    standard input (an MTA pipe)."""

    services = app.services
    raw = mail.read(MAX_MAIL_BYTES)
    click.echo(handle_mail(services.db, services.settings, raw, services.now(), recipient))
