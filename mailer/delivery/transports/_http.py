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

import time
from collections.abc import Callable, Sequence
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
    except requests.RequestException as exc:  # an answer too large to read, or unreadable
        raise Uncertain(f"{provider}: the answer could not be read ({exc})") from exc


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
    groups: Sequence[Sequence[Message]],
    call: Callable[[Sequence[Message]], list[SendResult]],
    idempotent: bool,
) -> list[SendResult]:
    """Make one call per group; once something went out, a later failure becomes per-message
    results instead of an exception, so the engine never loses what was already accepted."""
    results: list[SendResult] = []
    for group in groups:
        try:
            results.extend(call(group))
        except Uncertain as exc:
            results.extend(all_unknown(group, str(exc), idempotent))
        except TransportError as exc:
            if not results:
                raise
            results.extend(
                SendResult(
                    m.recipient,
                    "failed",
                    retryable=exc.retryable,
                    retry_after=exc.retry_after,
                    error=str(exc),
                )
                for m in group
            )
    return results


def group_identical(messages: Sequence[Message]) -> list[list[Message]]:
    """Messages that differ only in recipient can share one provider call; keeps order stable."""
    groups: dict[tuple, list[Message]] = {}
    for message in messages:
        key = (
            message.sender,
            message.subject,
            message.text,
            message.html,
            message.reply_to,
            message.message_id,
            tuple(sorted(message.headers.items())),
            tuple(sorted(message.metadata.items())),
        )
        groups.setdefault(key, []).append(message)
    return list(groups.values())


def split_address(value: str) -> tuple[str, str]:
    """('Name', 'addr@x') from 'Name <addr@x>' or ('', 'addr@x')."""
    from email.utils import parseaddr

    name, address = parseaddr(value)
    return name, address or value
