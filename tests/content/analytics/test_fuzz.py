"""Whatever JSON a provider sends, the fetch yields clean rows or one AnalyticsError; whatever
address it names, matching answers an article or nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mailer.content.analytics.base import MAX_COUNT, MAX_URL, AnalyticsError
from mailer.content.analytics.refresh import ArticleMatcher
from mailer.core.models import Article
from tests.content.analytics.helpers import fetch, provider
from tests.fixtures.http import Response

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["/story/1", "https://news.example.com/a", "12", "-3", "1e400", "NaN"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(
            st.sampled_from(
                [
                    "results",
                    "metrics",
                    "dimensions",
                    "meta",
                    "rows",
                    "rowCount",
                    "url",
                    "nb_hits",
                    "sum_time_spent",
                    "dimensionValues",
                    "metricValues",
                    "value",
                    "error",
                    "message",
                    "result",
                    "label",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=30,
)
FUZZ = hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(fake, http_server, document) -> None:
    http_server.queues.clear()
    http_server.expect("POST", fake.path, Response(200, document))
    try:
        stats = fetch(provider(fake.dsn))
    except AnalyticsError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for stat in stats:
        assert isinstance(stat.url, str) and 0 < len(stat.url) <= MAX_URL
        assert isinstance(stat.views, int) and 0 <= stat.views <= MAX_COUNT
        assert stat.engaged_seconds is None or 0 <= stat.engaged_seconds <= MAX_COUNT


@FUZZ
@given(document=documents)
def test_plausible_survives_any_json(plausible, http_server, document):
    check(plausible, http_server, document)


@FUZZ
@given(document=documents)
def test_matomo_survives_any_json(matomo, http_server, document):
    check(matomo, http_server, document)


@FUZZ
@given(document=documents)
def test_ga4_survives_any_json(ga4, http_server, document):
    check(ga4, http_server, document)


@pytest.fixture(scope="module")
def matcher() -> ArticleMatcher:
    stored = [
        Article(id=1, url="https://news.example.com/a"),
        Article(id=2, url="https://news.example.com/b?page=2"),
    ]
    return ArticleMatcher(stored, {"news.example.com"})


@hsettings(max_examples=300, deadline=None)
@given(
    address=st.one_of(
        st.text(max_size=60),
        st.builds(lambda tail: "/" + tail, st.text(max_size=40)),
        st.builds(lambda tail: "https://news.example.com" + tail, st.text(max_size=40)),
        st.builds(lambda tail: "http://[" + tail, st.text(max_size=20)),
    )
)
def test_any_address_matches_an_article_or_nothing(matcher, address):
    found = matcher.find(address)
    assert found is None or found.id in (1, 2)
