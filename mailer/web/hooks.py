"""POST /webhooks/PROVIDER: bounces, complaints and unsubscribes reported by mail providers."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from mailer.delivery.webhooks import CertificateCache, IncomingRequest, WebhookError, receive
from mailer.web.context import csrf, services

bp = Blueprint("hooks", __name__)
csrf.exempt(bp)  # providers sign their requests; they cannot carry our CSRF token


def _certificates() -> CertificateCache:
    """One SNS certificate cache per app, so each AWS certificate is fetched once."""
    return current_app.extensions.setdefault("mailer_sns_certs", CertificateCache())


@bp.post("/webhooks/<provider>")
def receive_webhook(provider: str):
    svc = services()
    incoming = IncomingRequest.of(request.get_data(cache=False), list(request.headers.items()))
    try:
        receipt = receive(
            provider,
            incoming,
            db=svc.db,
            settings=svc.settings,
            http=svc.http,
            now=svc.now(),
            certs=_certificates(),
        )
    except WebhookError as exc:
        if exc.status >= 500:
            current_app.logger.warning("webhook %s: %s", provider, exc)
        return jsonify(error=type(exc).__name__, message=str(exc)), exc.status
    result = receipt.result
    return jsonify(
        status="ok",
        applied=result.applied,
        duplicates=result.duplicates,
        stale=result.stale,
        suppressed=result.suppressed,
        confirmed=receipt.confirmed,
    )
