"""Page views per article from the site's analytics, picked by the MAILER_ANALYTICS DSN.

One module per provider (plausible, matomo, ga4), each a `Provider` whose
`fetch_page_stats(period_start, period_end, http, now)` returns `PageStat` rows; `refresh`
matches them to stored articles and records the outcome for the desk.
"""

from __future__ import annotations

from mailer.content.analytics.base import AnalyticsError, PageStat, Provider
from mailer.core.analytics_dsn import parse_analytics_dsn
from mailer.core.config import Settings

__all__ = ["AnalyticsError", "PageStat", "Provider", "provider_for"]


def provider_for(settings: Settings) -> Provider | None:
    """The provider MAILER_ANALYTICS names, or None when it is empty."""
    if not settings.analytics:
        return None
    dsn = parse_analytics_dsn(settings.analytics)  # validated with the settings already
    bounds = {"http_timeout": settings.http_timeout, "max_bytes": settings.fetch_max_bytes}
    if dsn.provider == "plausible":
        from mailer.content.analytics.plausible import Plausible

        return Plausible(dsn, **bounds)
    if dsn.provider == "matomo":
        from mailer.content.analytics.matomo import Matomo

        return Matomo(dsn, **bounds)
    from mailer.content.analytics.ga4 import GoogleAnalytics

    return GoogleAnalytics(dsn, **bounds)
