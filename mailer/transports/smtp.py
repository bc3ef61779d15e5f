"""SMTP and SMTPS: verified TLS, timeouts, one reused connection, reply codes classified."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import smtplib
import ssl
from collections.abc import Sequence

from mailer.transports.base import Message, SendResult, TransportError

_DOT = re.compile(rb"(?m)^\.")  # a line starting with a dot gets another (RFC 5321 4.5.2)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpTransport:
    """One connection, opened on first use and re-opened after a drop; not shared by threads."""

    name = "smtp"
    max_batch = 20
    idempotent = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",  # starttls | ssl | none (loopback only)
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        cafile: str | None = None,
        local_hostname: str | None = None,
        signer=None,
    ) -> None:
        if security == "none" and not _is_loopback(host):
            raise ValueError("tls=none is allowed only for a loopback host")
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.context = ssl.create_default_context(cafile=cafile)
        self.local_hostname = local_hostname
        self.signer = signer
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=self.context,
                    local_hostname=self.local_hostname,
                )
            else:
                conn = smtplib.SMTP(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
                )
                conn.ehlo()
                if self.security == "starttls":
                    if not conn.has_extn("starttls"):
                        conn.close()
                        raise TransportError(
                            f"{self.host} does not offer STARTTLS; refusing to send in clear",
                            retryable=False,
                        )
                    conn.starttls(context=self.context)
                    conn.ehlo()
            if self.username:
                conn.login(self.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"SMTP login refused: {exc.smtp_code}", retryable=False) from None
        except ssl.SSLError as exc:
            raise TransportError(
                f"TLS with {self.host} failed: {exc.reason}", retryable=False
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"cannot reach {self.host}:{self.port}: {exc}") from None
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self.conn is None:
            self.conn = self._connect()
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
        self.conn = None

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def _send_one(self, message: Message) -> SendResult:
        data = message.as_bytes()
        if self.signer is not None:
            data = self.signer.sign(data)
        sender = message.sender.rsplit("<", 1)[-1].rstrip(">").strip()
        for attempt in (1, 2):
            conn = self._connection() if attempt == 1 else self._reconnect_or_none()
            if conn is None:
                return SendResult(
                    message.recipient,
                    "failed",
                    retryable=True,
                    error="connection lost and could not be re-opened",
                )
            try:
                return self._transaction(conn, sender, message, data)
            except _DataSent as exc:
                self._drop()
                return SendResult(
                    message.recipient, "unknown", error=f"no answer after the data was sent: {exc}"
                )
            except smtplib.SMTPServerDisconnected:
                self._drop()
                continue  # dropped before the message left: reconnect once and try again
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                return SendResult(message.recipient, "failed", retryable=True, error=str(exc))
        return SendResult(message.recipient, "failed", retryable=True, error="disconnected")

    def _transaction(self, conn: smtplib.SMTP, sender: str, message: Message, data: bytes):
        """MAIL, RCPT, DATA by hand, so a drop after the data is known to be one."""
        code, reply = conn.mail(sender)
        if code != 250:
            conn.rset()
            return self._classify(message, code, reply)
        code, reply = conn.rcpt(message.recipient)
        if code not in (250, 251):
            conn.rset()
            return self._classify(message, code, reply)
        conn.putcmd("data")
        code, reply = conn.getreply()
        if code != 354:
            conn.rset()
            return self._classify(message, code, reply)
        payload = _DOT.sub(b"..", data)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        conn.send(payload + b".\r\n")
        try:
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _DataSent(str(exc) or type(exc).__name__) from None
        if code == 250:
            return SendResult(message.recipient, "sent", provider_id=message.message_id)
        return self._classify(message, code, reply)

    def _reconnect_or_none(self) -> smtplib.SMTP | None:
        try:
            return self._connection()
        except TransportError:
            return None

    def _classify(self, message: Message, code: int, text) -> SendResult:
        detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        error = f"{code} {detail}"
        if code == 421:
            self._drop()  # the server is closing the session
            return SendResult(message.recipient, "failed", retryable=True, error=error)
        if 400 <= code < 500:
            return SendResult(message.recipient, "failed", retryable=True, error=error)
        return SendResult(message.recipient, "rejected", retryable=False, error=error)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
        self.conn = None


class _DataSent(Exception):
    """The message left, and then the connection failed: its fate is unknown."""


def from_dsn(dsn, settings=None, http=None) -> SmtpTransport:
    security = "ssl" if dsn.scheme == "smtps" else "starttls"
    tls = dsn.options.get("tls", "")
    if tls == "none":
        security = "none"
    port = dsn.port or (465 if security == "ssl" else 587)
    timeout = settings.smtp_timeout if settings is not None else 30.0
    signer = None
    if settings is not None and settings.dkim_domain:
        from mailer.dkim import signer_from_settings

        signer = signer_from_settings(settings)
    return SmtpTransport(
        dsn.host,
        port,
        security=security,
        username=dsn.user,
        password=dsn.password,
        timeout=timeout,
        cafile=dsn.options.get("cafile"),
        signer=signer,
    )
