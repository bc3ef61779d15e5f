"""The provider half of bench/send.py: each HTTP API transport through the whole engine, as a
ratio to bare `requests` posting pre-built batches of the provider's largest size (the same
shape our transport sends, built once before the clock starts) to the same local sink.

The sink runs in its own process and answers every provider's batch endpoint with its real
answer shape, one entry per reader where the provider gives one.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

PROVIDERS = ("postmark", "resend", "sendgrid", "mailgun", "ses")


def _answer(path: str, body: bytes) -> tuple[int, dict, bytes]:
    """(status, headers, body) as the provider would answer an accepted batch."""
    if path == "/email/batch":  # Postmark: one result per message
        items = json.loads(body)
        answer = [
            {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{i}", "To": m.get("To")}
            for i, m in enumerate(items)
        ]
        return 200, {}, json.dumps(answer).encode()
    if path == "/emails/batch":  # Resend: ids in order
        items = json.loads(body)
        return (
            200,
            {},
            json.dumps({"data": [{"id": f"re-{i}"} for i in range(len(items))]}).encode(),
        )
    if path == "/v3/mail/send":  # SendGrid: 202, one id for the call
        json.loads(body)
        return 202, {"X-Message-Id": "sg-batch"}, b""
    if path.endswith("/messages"):  # Mailgun: one id for the call
        parse_qs(body.decode())
        return 200, {}, json.dumps({"id": "<mg@bench>", "message": "Queued. Thank you."}).encode()
    if path == "/v2/email/outbound-bulk-emails":  # SES: one result per entry
        entries = json.loads(body)["BulkEmailEntries"]
        answer = {
            "BulkEmailEntryResults": [
                {"Status": "SUCCESS", "MessageId": f"ses-{i}"} for i in range(len(entries))
            ]
        }
        return 200, {}, json.dumps(answer).encode()
    return 404, {}, b"{}"


def provider_sink(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # the headers and the body leave in two writes: without TCP_NODELAY the body waits
        # for the client's delayed ACK of the headers, 40 ms a call on Linux, for both sides
        disable_nagle_algorithm = True

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, headers, answer = _answer(self.path, body)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            return None

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def dsn_for(provider: str, port: int) -> str:
    host = f"127.0.0.1:{port}"
    return {
        "postmark": f"postmark://t@{host}",
        "resend": f"resend://k@{host}",
        "sendgrid": f"sendgrid://k@{host}",
        "mailgun": f"mailgun://k:mg.example.com@{host}",
        "ses": f"ses://AKID:secret@{host}?region=eu-west-1",
    }[provider]


def prebuilt(provider: str, port: int, messages: list) -> tuple[str, dict]:
    """(url, requests keyword arguments) for one batch, built once as our transport builds it."""
    from mailer.delivery.transports import transport_from_dsn
    from mailer.delivery.transports.mailgun import form
    from mailer.delivery.transports.resend import one as resend_one
    from mailer.delivery.transports.sendgrid import payload
    from mailer.delivery.transports.ses import bulk_document

    transport = transport_from_dsn(dsn_for(provider, port))
    json_headers = {"Content-Type": "application/json"}
    if provider == "postmark":
        body = [transport.one(m.filled()) for m in messages]
        return transport.url, {"data": json.dumps(body).encode(), "headers": json_headers}
    if provider == "resend":
        body = [resend_one(m.filled()) for m in messages]
        return transport.url, {"data": json.dumps(body).encode(), "headers": json_headers}
    if provider == "sendgrid":
        body = json.dumps(payload(messages)).encode()
        return transport.url, {"data": body, "headers": json_headers}
    if provider == "mailgun":
        encoded = urlencode(form(messages)).encode()
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return transport.url, {"data": encoded, "auth": ("api", "k"), "headers": form_headers}
    return transport.bulk_url, {
        "data": json.dumps(bulk_document(messages)).encode(),
        "headers": json_headers,
    }


def bare_rate(url: str, request: dict, size: int, batch: int) -> float:
    """Readers a second when bare requests posts the pre-built batch over one session."""
    import requests

    session = requests.Session()
    calls = max(size // batch, 1)
    started = time.perf_counter()
    for _ in range(calls):
        response = session.post(url, **request)
        response.raise_for_status()
        if response.content:
            response.json()
    return calls * batch / (time.perf_counter() - started)


def provider_ratios(workdir, size: int, port: int, engine_rate, batch_messages) -> list[dict]:
    """Each provider: the engine (one worker) against bare requests at the provider's batch.

    `engine_rate(workdir, size, dsn, connections)` runs a whole send; `batch_messages(n,
    batch_form)` gives n digest messages of the real demo issue."""
    from mailer.delivery.transports import transport_from_dsn

    rows = []
    for provider in PROVIDERS:
        dsn = dsn_for(provider, port)
        transport = transport_from_dsn(dsn)
        batch = transport.max_batch
        messages = batch_messages(batch, getattr(transport, "personalises", False))
        url, request = prebuilt(provider, port, messages)
        ours = engine_rate(workdir, size, dsn, 1)
        bare = bare_rate(url, request, size, batch)
        rows.append(
            {
                "transport": provider,
                "batch": batch,
                "engine_per_s": round(ours),
                "bare_requests_per_s": round(bare),
                "ratio": round(ours / bare, 3),
            }
        )
        print(f"{provider} x{batch}: {ours:.0f}/s vs {bare:.0f}/s", flush=True, file=_stderr())
    return rows


def _stderr():
    return sys.stderr


def main() -> None:
    """The provider ratios alone, with their own sink: one JSON line."""
    import argparse
    import tempfile
    from pathlib import Path

    from bench.send import digest_batch, engine_rate, free_port, start

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10000)
    args = parser.parse_args()
    port = free_port()
    sink = start(provider_sink, port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            rows = provider_ratios(workdir, args.size, port, engine_rate, digest_batch(workdir))
    finally:
        sink.terminate()
    print(json.dumps({"bench": "send_providers", "size": args.size, "providers": rows}))


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    main()
