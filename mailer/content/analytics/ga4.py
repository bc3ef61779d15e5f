"""Google Analytics 4 Data API: properties/{id}:runReport, views and engagement per page.

A service account signs a JWT (RS256, with `cryptography`) and trades it at its token_uri
for an access token (RFC 7523 grant). Answer: {"rows": [{"dimensionValues": [{"value":
"/path"}], "metricValues": [{"value": "12"}, {"value": "345.6"}]}], "rowCount": N}; an
error is {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailer.content.analytics.base import (
    PAGE_SIZE,
    AnalyticsError,
    Deadline,
    PageStat,
    Provider,
    day_range,
    page_url,
    whole_count,
)
from mailer.core.dsn import is_loopback

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_KEY_FILE = 64 * 1024


class GoogleAnalytics(Provider):
    def fetch_page_stats(
        self, period_start: datetime, period_end: datetime, http: requests.Session, now: datetime
    ) -> list[PageStat]:
        first, last = day_range(period_start, period_end, now)
        deadline = Deadline(self.dsn.timeout)
        token = self._access_token(http, deadline, now)
        dimension = self.dsn.options.get("dimension", "pagePath")
        url = f"{self.dsn.base_url}/v1beta/properties/{self.dsn.site}:runReport"
        stats: list[PageStat] = []
        offset = 0
        for _ in range(self.dsn.pages):
            report = {
                "dateRanges": [{"startDate": first, "endDate": last}],
                "dimensions": [{"name": dimension}],
                "metrics": [{"name": "screenPageViews"}, {"name": "userEngagementDuration"}],
                "orderBys": [{"metric": {"metricName": "screenPageViews"}, "desc": True}],
                "limit": PAGE_SIZE,
                "offset": offset,
            }
            answer = self.call(
                http, url, deadline, json=report, headers={"Authorization": f"Bearer {token}"}
            )
            if not isinstance(answer, dict):
                raise AnalyticsError("Google Analytics' answer is not a JSON object")
            rows = answer.get("rows") or []
            if not isinstance(rows, list):
                raise AnalyticsError("Google Analytics' answer has no rows list")
            stats.extend(self.keep(_row(row, dimension) for row in rows))
            offset += len(rows)
            total = whole_count(answer.get("rowCount"))
            if len(rows) < PAGE_SIZE or total is None or offset >= total:
                return stats
        self.stopped_early()
        return stats

    def _access_token(self, http: requests.Session, deadline: Deadline, now: datetime) -> str:
        account = _service_account(Path(self.dsn.key_file))
        token_uri = account["token_uri"]
        issued = int(now.timestamp())
        claims = {
            "iss": account["client_email"],
            "scope": SCOPE,
            "aud": token_uri,
            "iat": issued,
            "exp": issued + 3600,
        }
        assertion = signed_jwt(claims, account["private_key"], account.get("private_key_id"))
        answer = self.call(
            http, token_uri, deadline, data={"grant_type": GRANT, "assertion": assertion}
        )
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise AnalyticsError("Google's token endpoint gave no access token")
        return token


def _service_account(path: Path) -> dict:
    """The service-account key file's fields we need, or one sentence on what is wrong."""
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise AnalyticsError(f"{path} is too large to be a service-account key file")
        account = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnalyticsError(
            f"cannot read the service-account file {path}: {exc.strerror}"
        ) from None
    except ValueError:
        raise AnalyticsError(f"{path} is not a service-account JSON file") from None
    if not isinstance(account, dict):
        raise AnalyticsError(f"{path} is not a service-account JSON file")
    for name in ("client_email", "private_key", "token_uri"):
        if not isinstance(account.get(name), str) or not account[name]:
            raise AnalyticsError(f"the service-account file {path} has no {name}")
    parts = urlsplit(account["token_uri"])
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and is_loopback(parts.hostname or "")
    )
    if not secure or not parts.hostname:
        raise AnalyticsError("the service-account file's token_uri must be an https URL")
    return account


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_jwt(claims: dict, private_key_pem: str, key_id: str | None = None) -> str:
    """A compact JWS (RS256) over the claims, signed with the service account's RSA key."""
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AnalyticsError("the service-account private_key is not a PEM RSA key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AnalyticsError("the service-account private_key is not an RSA key")
    header = {"alg": "RS256", "typ": "JWT", **({"kid": key_id} if key_id else {})}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _row(row: object, dimension: str) -> PageStat | None:
    if not isinstance(row, dict):
        return None
    dims, metrics = row.get("dimensionValues"), row.get("metricValues")
    if not isinstance(dims, list) or not isinstance(metrics, list) or not dims or not metrics:
        return None
    values = [m.get("value") if isinstance(m, dict) else None for m in metrics]
    where = dims[0].get("value") if isinstance(dims[0], dict) else None
    if dimension == "fullPageUrl" and isinstance(where, str) and not where.startswith("/"):
        where = f"https://{where}"  # GA4's fullPageUrl is host and path without a scheme
    url = page_url(where)
    views = whole_count(values[0])
    if url is None or views is None:
        return None
    engaged = whole_count(values[1]) if len(values) > 1 else None
    return PageStat(url, views, engaged)
