from sqlalchemy import select

from mailer.content.sources.ingest import ingest_source
from mailer.core.models import Article, Source
from tests.fixtures.http import Response


def post(n, day):
    """A post in the REST API's documented shape, with _embedded author, media and terms."""
    return {
        "id": n,
        "date_gmt": f"2026-11-{day:02d}T09:00:00",
        "modified_gmt": f"2026-11-{day:02d}T10:00:00",
        "guid": {"rendered": f"https://site.example/?p={n}"},
        "link": f"https://site.example/2026/11/post-{n}/?utm_campaign=wp",
        "title": {"rendered": f"Post number {n} &#8211; with an en dash"},
        "excerpt": {"rendered": f"<p>Excerpt of post {n}.</p>"},
        "_embedded": {
            "author": [{"id": 2, "name": "Wendy Press"}],
            "wp:featuredmedia": [
                {"source_url": f"https://site.example/media/{n}.jpg", "alt_text": f"Photo {n}"}
            ],
            "wp:term": [
                [{"taxonomy": "category", "name": "Politics"}],
                [{"taxonomy": "post_tag", "name": "council"}],
            ],
        },
    }


def test_two_pages_with_authors_images_and_a_cursor(db, services, settings, now, http_server):
    pages = {"1": [post(1, 20), post(2, 21)], "2": [post(3, 22)]}

    def answer(request):
        page = request.query.get("page", ["1"])[0]
        if "after" in request.query:
            return Response(200, [], {"X-WP-TotalPages": "0", "X-WP-Total": "0"})
        return Response(200, pages[page], {"X-WP-TotalPages": "2", "X-WP-Total": "3"})

    http_server.route("GET", "/wp-json/wp/v2/posts", answer)
    url = f"wp+{http_server.url}/wp-json"
    report = ingest_source(db, services.source_http, url, now, settings)
    assert (report.error, report.new) == ("", 3)
    with db.session() as session:
        stored = {a.url: a for a in session.scalars(select(Article))}
        source = session.scalar(select(Source))
    first = stored["https://site.example/2026/11/post-1/"]
    assert first.author == "Wendy Press" and first.image_alt == "Photo 1"
    assert first.title == "Post number 1 \u2013 with an en dash"
    assert first.section == "Politics" and [t.tag for t in first.tags] == ["Politics", "council"]
    assert source.cursor == "2026-11-22T09:00:00"
    ingest_source(db, services.source_http, url, now, settings)
    last = http_server.requests_to("/wp-json/wp/v2/posts")[-1]
    assert last.query["after"] == ["2026-11-22T09:00:00"]
    assert last.query["_embed"] == ["1"]


def test_a_broken_site_is_a_clear_error(db, services, settings, now, http_server):
    http_server.expect("GET", "/wp-json/wp/v2/posts", Response(500, "oops"))
    http_server.expect("GET", "/wp-json/wp/v2/posts", Response(200, "<html>maintenance</html>"))
    url = f"wp+{http_server.url}/wp-json"
    first = ingest_source(db, services.source_http, url, now, settings)
    assert "HTTP 500" in first.error
    second = ingest_source(db, services.source_http, url, now, settings)
    assert "other than JSON" in second.error
    with db.session() as session:
        assert session.scalar(select(Source)).consecutive_failures == 2


def test_a_sticky_post_is_marked_and_unmarked_as_the_site_says(
    db, services, settings, now, http_server
):
    posts = {"list": [post(1, 20), {**post(2, 21), "sticky": True}]}
    http_server.route(
        "GET",
        "/wp-json/wp/v2/posts",
        lambda request: Response(200, posts["list"], {"X-WP-TotalPages": "1"}),
    )
    url = f"wp+{http_server.url}/wp-json"
    ingest_source(db, services.source_http, url, now, settings)
    with db.session() as session:
        sticky = {a.url[-2]: a.sticky for a in session.scalars(select(Article))}
    assert sticky == {"1": False, "2": True}
    posts["list"] = [post(2, 21), {**post(1, 20), "sticky": "yes"}]  # only true is true
    report = ingest_source(db, services.source_http, url, now, settings)
    assert report.unchanged == 2
    with db.session() as session:
        assert not any(a.sticky for a in session.scalars(select(Article)))


def test_posts_of_the_wrong_shape_fail_that_site_only(db, services, settings, now, http_server):
    from mailer.content.sources.ingest import ingest_all

    odd = [
        {**post(1, 20), "title": "a plain string"},
        {**post(2, 20), "_embedded": 5},
        {**post(3, 20), "_embedded": {"author": [5]}},
        {**post(4, 20), "date_gmt": 5},
    ]
    for n, shape in enumerate(odd):
        http_server.route(
            "GET", f"/odd{n}/wp/v2/posts", lambda r, shape=shape: Response(200, [shape])
        )
    http_server.route("GET", "/fine/wp/v2/posts", lambda r: Response(200, [post(9, 21)]))
    urls = [f"wp+{http_server.url}/odd{n}" for n in range(len(odd))] + [
        f"wp+{http_server.url}/fine"
    ]
    reports = ingest_all(db, services.source_http, settings, now, urls)
    assert all("not in the REST API's shape" in r.error for r in reports[:-1])
    assert (reports[-1].error, reports[-1].new) == ("", 1)
