"""WordPress sites through the REST API: /wp/v2/posts with _embed, page by page, after a cursor."""

from __future__ import annotations

from datetime import UTC, datetime

from mailer.content.articles import ArticleData
from mailer.content.sources.canonical import canonical_url, is_http
from mailer.content.sources.clean import clean_summary, excerpt, plain_text
from mailer.content.sources.client import SourceSession
from mailer.content.sources.fetch import FetchError, fetch
from mailer.content.sources.rss import ParseError
from mailer.core import safejson

PER_PAGE = 50
MAX_PAGES = 20


def api_base(source_url: str) -> str:
    """wp+https://site/wp-json -> https://site/wp-json"""
    return source_url.removeprefix("wp+").rstrip("/")


def _gmt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "")).replace(tzinfo=UTC)
    except ValueError:
        return None


def _post(post: dict, now: datetime) -> ArticleData | None:
    link = post.get("link")
    if not is_http(link):
        return None
    embedded = post.get("_embedded") or {}
    authors = embedded.get("author") or []
    media = (embedded.get("wp:featuredmedia") or [{}])[0] or {}
    terms = [t for group in embedded.get("wp:term") or [] for t in group or []]
    categories = [plain_text(t.get("name")) for t in terms if t.get("taxonomy") == "category"]
    tags = [plain_text(t.get("name")) for t in terms if t.get("taxonomy") == "post_tag"]
    published = _gmt(post.get("date_gmt")) or now
    return ArticleData(
        url=canonical_url(link),
        guid=(post.get("guid") or {}).get("rendered") or f"wp:{post.get('id')}",
        title=plain_text((post.get("title") or {}).get("rendered"))[:500] or "(untitled)",
        summary=excerpt(clean_summary((post.get("excerpt") or {}).get("rendered"))),
        author=plain_text(authors[0].get("name")) if authors else None,
        section=categories[0] if categories else None,
        tags=tuple(dict.fromkeys(categories + tags))[:10],
        image_url=media.get("source_url") if is_http(media.get("source_url")) else None,
        image_alt=plain_text(media.get("alt_text")) or None,
        published_at=min(published, now),
        updated_at=_gmt(post.get("modified_gmt")),
        sticky=post.get("sticky") is True,
    )


def fetch_posts(
    http: SourceSession, source_url: str, cursor: str | None, now: datetime, max_bytes: int
) -> tuple[list[ArticleData], str | None]:
    """Every post after the cursor, all pages within one deadline; the articles and new cursor."""
    with http.budget() as budget:
        return _pages(http, source_url, cursor, now, max_bytes, budget)


def _pages(
    http: SourceSession, source_url: str, cursor: str | None, now: datetime, max_bytes: int, budget
) -> tuple[list[ArticleData], str | None]:
    base = api_base(source_url)
    articles: list[ArticleData] = []
    newest = cursor
    page, pages = 1, 1
    while page <= min(pages, MAX_PAGES):
        params = {
            "_embed": "1",
            "per_page": str(PER_PAGE),
            "page": str(page),
            "orderby": "date",
            "order": "asc",
        }
        if cursor:
            params["after"] = cursor
        got = fetch(
            http,
            f"{base}/wp/v2/posts",
            params=params,
            max_bytes=max_bytes,
            accept="application/json",
            budget=budget,
        )
        try:
            posts = safejson.loads(got.body)
        except ValueError:
            raise ParseError("the site answered with something other than JSON") from None
        if not isinstance(posts, list):
            raise ParseError("the site's answer is not a list of posts")
        total = got.headers.get("X-WP-TotalPages") or got.headers.get("x-wp-totalpages") or "1"
        pages = int(total) if str(total).isdigit() else 1
        for post in posts:
            if not isinstance(post, dict):
                raise ParseError("the site's answer holds something that is not a post")
            try:
                article = _post(post, now)
            except (AttributeError, TypeError, ValueError, IndexError, KeyError):
                raise ParseError(
                    f"post {str(post.get('id'))[:20]} is not in the REST API's shape"
                ) from None
            if article is not None:
                articles.append(article)
                stamp = post.get("date_gmt")
                if isinstance(stamp, str) and (newest is None or stamp > newest):
                    newest = stamp
        page += 1
    return articles, newest


__all__ = ["FetchError", "ParseError", "fetch_posts"]
