"""What every HTTP provider shares: the endpoint, the POST, and how an answer is classified.

| what happened                              | outcome                                             |
|--------------------------------------------|-----------------------------------------------------|
| connection refused / connect timeout / DNS | TransportError, retryable (nothing left our side)   |
| read timeout or drop after the request     | one "unknown" per message (retryable if idempotent) |
| 401 / 403                                  | TransportError, not retryable (bad credentials)     |
| 429                                        | TransportError, retryable, throttled, Retry-After   |
| 5xx                                        | TransportError, retryable, Retry-After if given     |
| 400 / 413 / 422 naming no recipient        | one "failed" per message, not retryable             |
| 2xx                                        | the provider module reads the body                  |
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import requests

from mailer.core import safejson
from mailer.core.dsn import is_loopback
from mailer.delivery.transports.base import Message, SendResult, TransportError

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


def base_url(dsn: Dsn, default: str) -> str:
    """Host `default` is the provider's endpoint; any other host is the base URL to use."""
    if dsn.uses_default_endpoint:
        return default
    scheme = "http" if is_loopback(dsn.host) else "https"
    host = f"[{dsn.host}]" if ":" in dsn.host else dsn.host
    port = f":{dsn.port}" if dsn.port else ""
    return f"{scheme}://{host}{port}{dsn.path.rstrip('/')}"


def timeout_for(dsn: Dsn, options: TransportOptions) -> float:
    """?timeout=SECONDS, else MAILER_HTTP_TIMEOUT, else 10 s: never wait forever."""
    raw = dsn.options.get("timeout")
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"timeout={raw!r} is not a number of seconds") from None
        if value <= 0:
            raise ValueError("timeout must be above 0 seconds")
        return value
    return options.http_timeout


def session(http: requests.Session | None) -> requests.Session:
    return http if http is not None else requests.Session()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either seconds or an HTTP date; a date in the past means now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def body_text(response: requests.Response, limit: int = 300) -> str:
    """A short, single-line excerpt of the provider's answer, for the ledger's last_error."""
    text = " ".join((response.text or "").split())
    return text[:limit]


def json_body(response: requests.Response) -> object:
    try:
        return safejson.loads(response.content)
    except ValueError:
        return None


class Uncertain(Exception):
    """The request left, but no answer came back: the provider may or may not have it."""


def post(http: requests.Session, provider: str, url: str, **kwargs) -> requests.Response:
    """POST once; sort network failures into 'nothing sent' (raise) and 'maybe sent' (Uncertain)."""
    try:
        return http.post(url, **kwargs)
    except requests.ConnectTimeout as exc:
        raise TransportError(f"{provider}: could not connect to {url} ({exc})") from exc
    except requests.ReadTimeout as exc:
        raise Uncertain(f"{provider}: no answer before the timeout") from exc
    except requests.ConnectionError as exc:
        if _before_sending(exc):
            raise TransportError(f"{provider}: could not connect to {url}") from exc
        raise Uncertain(f"{provider}: the connection dropped before an answer") from exc


def _before_sending(exc: BaseException) -> bool:
    """True when the failure happened while connecting (refused, DNS), not after the request."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NewConnectionError | NameResolutionError | ConnectionRefusedError):
            return True
        reason = getattr(seen, "reason", None)
        if isinstance(reason, BaseException) and reason is not seen:
            seen = reason
            continue
        args = getattr(seen, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        seen = nested if nested is not seen else None
    return False


def raise_for_call(provider: str, response: requests.Response) -> None:
    """Raise TransportError for the answers that concern the whole call."""
    status = response.status_code
    if status in (401, 403):
        raise TransportError(
            f"{provider} refused the credentials (HTTP {status}): {body_text(response)}; "
            "check the key in MAILER_TRANSPORT",
            retryable=False,
        )
    if status == 429:
        raise TransportError(
            f"{provider} is throttling us (HTTP 429): {body_text(response)}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            throttled=True,
        )
    if status >= 500:
        raise TransportError(
            f"{provider} failed (HTTP {status}): {body_text(response)}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


def all_failed(messages: Sequence[Message], error: str) -> list[SendResult]:
    """A refusal that names no recipient: the message, not the address, is at fault."""
    return [SendResult(m.recipient, "failed", error=error) for m in messages]


def all_unknown(messages: Sequence[Message], error: str, idempotent: bool) -> list[SendResult]:
    return [SendResult(m.recipient, "unknown", retryable=idempotent, error=error) for m in messages]


def send_in_calls(
    messages: Sequence[Message],
    groups: Sequence[Sequence[int]],
    call: Callable[[Sequence[Message]], list[SendResult]],
    idempotent: bool,
) -> list[SendResult]:
    """Make one call per group of message indices; results come back in the messages' order.

    Once something went out, a later failure becomes per-message results instead of an
    exception, so the engine never loses what was already accepted."""
    results: list[SendResult | None] = [None] * len(messages)
    done = False
    for group in groups:
        batch = [messages[i] for i in group]
        try:
            answers = call(batch)
        except Uncertain as exc:
            answers = all_unknown(batch, str(exc), idempotent)
        except TransportError as exc:
            if not done:
                raise
            answers = [
                SendResult(
                    m.recipient,
                    "failed",
                    retryable=exc.retryable,
                    retry_after=exc.retry_after,
                    error=str(exc),
                )
                for m in batch
            ]
        for index, answer in zip(group, answers, strict=True):
            results[index] = answer
        done = True
    return [r for r in results if r is not None]


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


def one_each(messages: Sequence[Message]) -> list[list[int]]:
    return [[i] for i in range(len(messages))]


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
            return send_in_calls(
                batch, halves, lambda part: isolate(part, call, idempotent), idempotent
            )
        rest = [i for i in range(len(batch)) if i not in named]
        sent = iter(isolate([batch[i] for i in rest], call, idempotent) if rest else [])
        return [
            SendResult(m.recipient, "invalid", error=str(exc)) if i in named else next(sent)
            for i, m in enumerate(batch)
        ]


def split_address(value: str) -> tuple[str, str]:
    """('Name', 'addr@x') from 'Name <addr@x>' or ('', 'addr@x')."""
    from email.utils import parseaddr

    if "<" not in value and '"' not in value and "(" not in value:
        return "", value.strip()  # a bare address, as readers' are: no parsing to do
    name, address = parseaddr(value)
    return name, address or value
