"""The MAILER_ANALYTICS DSN: which analytics provider to read page views from, and how.

It lives in core so that config can refuse a bad value at start-up; the providers themselves
are in mailer.content.analytics.

    plausible://KEY@plausible.io/example.org           Plausible (host `default` = plausible.io)
    matomo://TOKEN@matomo.example.org/SITE_ID          Matomo (a path before SITE_ID is kept)
    ga4:///path/to/service-account.json?property=N     Google Analytics 4 (empty host = Google)

Every form takes ?timeout=SECONDS (the whole fetch, every page; default 60), ?pages=N (most
pages read; default 20) and ?site=https://news.example.com (the base that relative paths are
read against). GA4 also takes ?dimension=pagePath|pagePathPlusQueryString|pageLocation|
fullPageUrl. A loopback host is spoken to over plain http (tests); any other over https.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from mailer.core.dsn import is_loopback, split_dsn

HELP = (
    "a DSN such as plausible://KEY@plausible.io/example.org, "
    "matomo://TOKEN@matomo.example.org/SITE_ID or "
    "ga4:///path/to/service-account.json?property=123456"
)
PROVIDERS = ("plausible", "matomo", "ga4")
DEFAULT_HOSTS = {"plausible": "plausible.io", "matomo": "", "ga4": "analyticsdata.googleapis.com"}
GA4_DIMENSIONS = ("pagePath", "pagePathPlusQueryString", "pageLocation", "fullPageUrl")
OPTIONS = {
    "plausible": {"timeout", "pages", "site"},
    "matomo": {"timeout", "pages", "site"},
    "ga4": {"timeout", "pages", "site", "property", "dimension"},
}
DEFAULT_TIMEOUT = 60.0
DEFAULT_PAGES = 20
MAX_PAGES = 1000


@dataclass(frozen=True)
class AnalyticsDsn:
    """A parsed MAILER_ANALYTICS value."""

    provider: str
    base_url: str  # where the provider's API lives, no trailing slash
    secret: str = ""  # Plausible key, Matomo token; GA4 keeps its key in the file
    site: str = ""  # Plausible site_id, Matomo idSite, GA4 property id
    key_file: str = ""  # GA4 service-account JSON
    timeout: float = DEFAULT_TIMEOUT
    pages: int = DEFAULT_PAGES
    site_url: str = ""  # base for relative paths, e.g. https://news.example.com
    options: dict[str, str] = field(default_factory=dict)


def _base(host: str, port: int | None, path: str) -> str:
    scheme = "http" if is_loopback(host) else "https"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}{f':{port}' if port else ''}{path.rstrip('/')}"


def _number(options: dict[str, str], name: str, default: float, whole: bool) -> float:
    raw = options.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not 0 < value <= (MAX_PAGES if whole else 3600):
        raise ValueError(f"{name}={raw!r} is out of range")
    return value


def parse_analytics_dsn(text: str) -> AnalyticsDsn:
    """Split a DSN into what a provider needs; raise ValueError saying what is wrong."""
    parts = split_dsn(text, PROVIDERS, "provider")
    provider, port = parts.scheme.lower(), parts.port
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - OPTIONS[provider])
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r}")
    site_url = options.get("site", "")
    if site_url:
        site_parts = urlsplit(site_url)
        if site_parts.scheme not in ("http", "https") or not site_parts.hostname:
            raise ValueError("site= must be an http(s) URL such as https://news.example.com")
    host = parts.hostname or ""
    if host == "default":
        host = ""
    common = {
        "timeout": _number(options, "timeout", DEFAULT_TIMEOUT, whole=False),
        "pages": int(_number(options, "pages", DEFAULT_PAGES, whole=True)),
        "site_url": site_url.rstrip("/"),
        "options": options,
    }
    if provider == "ga4":
        return _ga4(parts.path, host, port, options, common)
    secret = unquote(parts.username or "")
    if not secret:
        raise ValueError(f"{provider}:// needs its API key before the @")
    path, _, site = unquote(parts.path).rstrip("/").rpartition("/")
    if not site:
        what = "site_id (the domain)" if provider == "plausible" else "SITE_ID"
        raise ValueError(f"{provider}:// needs the {what} as the last part of the path")
    if provider == "matomo":
        if not host:
            raise ValueError("matomo:// needs the host of your Matomo")
        if not site.isdigit():
            raise ValueError(f"the Matomo site id {site!r} is not a number")
    host = host or DEFAULT_HOSTS[provider]
    return AnalyticsDsn(provider, _base(host, port, path), secret=secret, site=site, **common)


def _ga4(path: str, host: str, port: int | None, options: dict, common: dict) -> AnalyticsDsn:
    key_file = unquote(path)
    if not key_file.endswith(".json") or not key_file.startswith("/"):
        raise ValueError("ga4:// needs the absolute path of the service-account .json file")
    prop = options.get("property", "")
    if not prop.isdigit():
        raise ValueError("ga4:// needs ?property= with the numeric GA4 property id")
    dimension = options.get("dimension", "pagePath")
    if dimension not in GA4_DIMENSIONS:
        raise ValueError(f"dimension= must be one of {', '.join(GA4_DIMENSIONS)}")
    base = _base(host, port, "") if host else f"https://{DEFAULT_HOSTS['ga4']}"
    return AnalyticsDsn("ga4", base, site=prop, key_file=key_file, **common)
