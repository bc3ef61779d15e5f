"""Batches for the providers that take many readers in one call: which messages may share a
call, what in them is shared and what is each reader's, the provider's variables for the
reader's values, and how a refused batch is narrowed down to the readers at fault."""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable, Mapping, Sequence

from mailer.delivery.transports import _http
from mailer.delivery.transports.base import Message, SendResult


def by_size(sizes: Sequence[int], most: int, most_bytes: int) -> list[list[int]]:
    """Consecutive groups of at most `most` items and about `most_bytes` (a lone bigger item
    still gets a group of its own, for the provider to judge)."""
    groups: list[list[int]] = []
    total = 0
    for index, size in enumerate(sizes):
        if not groups or len(groups[-1]) >= most or total + size > most_bytes:
            groups.append([])
            total = 0
        groups[-1].append(index)
        total += size
    return groups


def headers_of(message: Message) -> dict[str, str]:
    """The message's own headers with its Message-ID among them."""
    headers = dict(message.headers)
    if message.message_id:
        headers["Message-ID"] = message.message_id
    return headers


def content_key(message: Message) -> tuple:
    """What must be the same for messages to share one personalised call."""
    return (
        message.sender,
        message.subject,
        message.text,
        message.html,
        message.reply_to,
        tuple(message.markers.items()),
        tuple(sorted(message.headers)),
        bool(message.message_id),
        tuple(sorted(message.metadata)),
    )


def batches(messages: Sequence[Message], size: int) -> list[list[int]]:
    """Indices of messages that can share one call: the same content (per-reader values
    aside), at most `size`, and no address twice (providers key per-reader data by it)."""
    groups: list[list[int]] = []
    open_groups: dict[tuple, tuple[list[int], set[str]]] = {}
    for index, message in enumerate(messages):
        key = content_key(message)
        address = message.recipient.lower()
        current = open_groups.get(key)
        if current is None or len(current[0]) >= size or address in current[1]:
            current = ([], set())
            open_groups[key] = current
            groups.append(current[0])
        current[0].append(index)
        current[1].add(address)
    return groups


def split_shared(maps: Sequence[Mapping[str, str]]) -> tuple[dict[str, str], list[str]]:
    """(the entries every map has alike, the names whose values differ between them)."""
    first = maps[0]
    differ = [name for name in first if any(m.get(name) != first[name] for m in maps[1:])]
    return {k: v for k, v in first.items() if k not in differ}, differ


def variable(tag: str, name: str, in_html: bool) -> str:
    """A per-reader variable's name: `tag` is random per call, so no content can spell it."""
    return f"{tag}_{name}_html" if in_html else f"{tag}_{name}"


def new_tag() -> str:
    return "r" + secrets.token_hex(8)


def shared_content(
    message: Message, tag: str, spell: Callable[[str], str]
) -> tuple[str, str, str | None]:
    """The batch's subject, text and html with each marker replaced by the provider's
    placeholder for the reader's value (the HTML part has its own, for the escaped value)."""
    subject, text, body = message.subject, message.text, message.html
    for name, key in message.markers.items():
        plain = spell(variable(tag, name, False))
        subject = subject.replace(key, plain)
        text = text.replace(key, plain)
        if body is not None:
            body = body.replace(key, spell(variable(tag, name, True)))
    return subject, text, body


def reader_values(message: Message, tag: str) -> dict[str, str]:
    """This reader's values under the variables shared_content placed (escaped for HTML)."""
    out = {}
    for name in message.markers:
        value = message.values.get(name, "")
        out[variable(tag, name, False)] = value
        out[variable(tag, name, True)] = html.escape(value, quote=True)
    return out


class Refused(Exception):
    """The provider refused a whole batch because of some recipients in it: `named` are the
    positions it named, or empty when it did not say which."""

    def __init__(self, message: str, named: frozenset[int] = frozenset()) -> None:
        super().__init__(message)
        self.named = named


def isolate(
    batch: Sequence[Message],
    call: Callable[[Sequence[Message]], list[SendResult]],
    idempotent: bool,
) -> list[SendResult]:
    """Call; when a batch is refused for some addresses, fail only those and send the rest:
    the named ones at once, unnamed ones found by halving (a few extra calls, no guessing)."""
    try:
        return call(batch)
    except Refused as exc:
        if len(batch) == 1:
            return [SendResult(batch[0].recipient, "invalid", error=str(exc))]
        named = {i for i in exc.named if i < len(batch)}
        if not named:
            half = len(batch) // 2
            halves = [list(range(half)), list(range(half, len(batch)))]
            return _http.send_in_calls(
                batch, halves, lambda part: isolate(part, call, idempotent), idempotent
            )
        rest = [i for i in range(len(batch)) if i not in named]
        sent = iter(isolate([batch[i] for i in rest], call, idempotent) if rest else [])
        return [
            SendResult(m.recipient, "invalid", error=str(exc)) if i in named else next(sent)
            for i, m in enumerate(batch)
        ]
