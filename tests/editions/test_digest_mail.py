"""The digest as readers see it: the greeting and introduction, related items in date order,
the links' style, and thumbnails that stack above their story on a phone (real Chromium)."""

import re
from datetime import timedelta

import pytest

from mailer.editions.render import intro_paragraphs, render_digest
from tests.editions.test_render import SETTINGS, Page, make_digest, personalised

READER = {"greeting": "Hello Sam,", "first_name": "Sam", "unsubscribe_url": "https://u.example/u"}


def paragraphs(html: str) -> list[str]:
    return [" ".join(p.split()) for p in re.findall(r"<p\b[^>]*>(.*?)</p>", html, re.S)]


@pytest.mark.parametrize("intro", ["", None, "  \n\n  "])
def test_with_no_introduction_the_greeting_leads_into_a_line_about_the_issue(intro):
    digest = make_digest(4, 2)
    digest.intro = intro
    _subject, text, html = render_digest(digest, SETTINGS).personalise(READER)
    line = "Here are this week's four top stories from The Daily Example, with related coverage."
    assert "Hello Sam,\n\n" + line + "\n" in text
    shown = paragraphs(html)
    assert shown[shown.index("Hello Sam,") + 1] == line


def test_the_editors_introduction_replaces_the_default_line_paragraph_by_paragraph():
    digest = make_digest(3, 0)
    digest.intro = "First thought.\r\n\r\nSecond thought.\n\n\n\n"
    _subject, text, html = render_digest(digest, SETTINGS).personalise(READER)
    assert "Hello Sam,\n\nFirst thought.\n\nSecond thought.\n" in text
    assert paragraphs(html)[1:3] == ["First thought.", "Second thought."]
    assert "Here are this week" not in text + html


def test_the_default_line_counts_the_stories_and_mentions_related_only_when_there_is_some():
    assert intro_paragraphs("", 1, False, "The Post") == [
        "Here is this week's top story from The Post."
    ]
    assert intro_paragraphs("", 12, True, "X") == [
        "Here are this week's 12 top stories from X, with related coverage."
    ]


def test_related_items_run_oldest_to_newest_whatever_their_position():
    digest = make_digest(2, 3)
    item = digest.items[0]
    base = item.published_at
    # positions 0, 1, 2 (the editor's order) dated newest, oldest, middle
    for rel, days in zip(item.related, (1, 30, 10), strict=True):
        rel.published_at = base - timedelta(days=days)
    rendered = render_digest(digest, SETTINGS)
    titles = [rel.title for rel in sorted(item.related, key=lambda r: r.published_at)]
    for part in (rendered.text, rendered.html.replace("&#39;", "'").replace("&amp;", "&")):
        found = [part.index(t) for t in titles]
        assert found == sorted(found), titles


def test_view_in_browser_is_styled_like_the_other_links():
    _subject, _text, html = personalised(render_digest(make_digest(2, 1), SETTINGS))
    links = [a for a in Page(html).all("a") if a.get("href", "").endswith("/archive/2026-W48")]
    assert len(links) == 2  # at the top and in the footer
    for link in links:
        assert "color:#444444" in link["style"].replace(" ", "")
    assert ".foot a, .period a { color: #dddddd !important; }" in html  # and in dark mode


def test_thumbnails_sit_in_a_table_row_beside_the_story_where_media_queries_are_ignored():
    html = render_digest(make_digest(3, 1), SETTINGS).html
    rows = re.findall(
        r"<tr>\s*<td class=\"thumb\"[^>]*width=\"120\".*?<td class=\"copy\"", html, re.S
    )
    assert len(rows) == 2  # the lead has its own full-width picture; two thumbnails
    assert "@media (max-width: 480px)" in html


def boxes(page, selector):
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return {top: r.top, left: r.left, width: r.width, bottom: r.bottom}; })",
    )


@pytest.mark.browser
def test_on_a_phone_the_thumbnail_stacks_above_its_story_and_beside_it_on_a_desktop(page):
    html = render_digest(make_digest(3, 1, image_url=""), SETTINGS).html
    html = re.sub(
        r'src="https://img\.huffpost\.com/\d+\.jpg"',
        'src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="',
        html,
    )
    page.set_viewport_size({"width": 375, "height": 800})
    page.set_content(html)
    thumbs, copies = boxes(page, "td.thumb"), boxes(page, "td.copy")
    assert len(thumbs) == 1 and len(copies) == 3
    story = copies[2]  # the third story carries the one thumbnail (the second has no image)
    assert thumbs[0]["bottom"] <= story["top"] + 1 and story["width"] > 300
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.set_viewport_size({"width": 1280, "height": 800})
    thumbs, copies = boxes(page, "td.thumb"), boxes(page, "td.copy")
    assert thumbs[0]["left"] < copies[2]["left"] and abs(thumbs[0]["top"] - copies[2]["top"]) < 8
