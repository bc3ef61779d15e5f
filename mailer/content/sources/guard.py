"""Which addresses a source may reach: public ones, or hosts an operator allowlisted.

A feed URL, a redirect and a WordPress answer are hostile input; without this a source could
make the server read its own loopback services, the cloud metadata address or the intranet.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_KINDS = ("unspecified", "loopback", "link-local", "multicast", "private", "reserved")


class Refused(Exception):
    """A destination sources may not reach; the message says which and why."""


class Unresolved(OSError):
    """The host has no address we could find in time."""


def host_key(host: str) -> str:
    """A host as URLs, pools and the allowlist spell it alike: lower case, no brackets or dot,
    international names in their ASCII form."""
    key = host.strip().strip("[]").rstrip(".").lower()
    try:
        return key.encode("idna").decode("ascii")
    except UnicodeError:
        return key  # left as it is; a pool spelling it otherwise finds no checked address


def parse_allowlist(entries: tuple[str, ...]) -> frozenset[tuple[str, int | None]]:
    """MAILER_SOURCE_ALLOW_HOSTS entries (host, host:port, [v6], [v6]:port) as (host, port)."""
    allowed = set()
    for entry in entries:
        text = entry.strip()
        host, port = text, None
        if text.startswith("["):
            inside, _, rest = text[1:].partition("]")
            host, port = inside, rest[1:] if rest.startswith(":") else None
        elif text.count(":") == 1:
            host, port = text.split(":")
        if port is not None and not port.isdigit():
            raise ValueError(f"{entry!r} is not host or host:port")
        allowed.add((host_key(host), int(port) if port else None))
    return frozenset(allowed)


def is_allowlisted(allowed: frozenset[tuple[str, int | None]], host: str, port: int) -> bool:
    key = host_key(host)
    return (key, None) in allowed or (key, port) in allowed


def _embedded(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list:
    """The address itself and any IPv4 address an IPv6 form carries (mapped, 6to4, NAT64)."""
    found = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour:
            found.append(ip.sixtofour)
        if ip.teredo:
            found.extend(ip.teredo)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refusal(address: str) -> str | None:
    """Why a connection to this IP address is refused, or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    for form in _embedded(ip):
        for label in _KINDS:
            if getattr(form, f"is_{label.replace('-', '_')}"):
                return f"{address} is not a public address ({label})"
        if not form.is_global:
            return f"{address} is not a public address"
    return None


def resolve(host: str, port: int, seconds: float) -> list[str]:
    """The host's IP addresses, giving up after `seconds` (getaddrinfo has no timeout)."""
    answer: dict[str, object] = {}

    def lookup() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host_key(host), port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            answer["error"] = exc

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise Unresolved(f"resolving {host} took too long")
    if "error" in answer:
        raise Unresolved(f"cannot resolve {host}")
    addresses = [info[4][0] for info in answer["infos"]]  # type: ignore[union-attr]
    return list(dict.fromkeys(addresses))


def checked_addresses(
    host: str, port: int, allowed: frozenset[tuple[str, int | None]], seconds: float
) -> list[str]:
    """Resolve once and check every address; the caller connects only to these."""
    addresses = resolve(host, port, seconds)
    if not addresses:
        raise Unresolved(f"{host} has no address")
    if is_allowlisted(allowed, host, port):
        return addresses
    for address in addresses:
        if reason := refusal(address):
            named = "" if host_key(address) == host_key(host) else f"{host} resolves to "
            raise Refused(
                f"{named}{reason}; MAILER_SOURCE_ALLOW_HOSTS can allow a trusted intranet host"
            )
    return addresses
