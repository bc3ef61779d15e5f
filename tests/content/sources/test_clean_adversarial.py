"""Feed HTML built to make pattern matching slow is cleaned in linear time.

These are correctness checks, not speed measurements: a quadratic cleaner needs many minutes
for the 1 MB inputs below (16k share links took 41 s before, and 1 MB is 64k), a linear one a
fraction of a second of work, so a hard 60 s limit, most of it room for the interpreter to
start on a busy machine, separates "finishes" from "hangs" by orders of magnitude. Each input
runs in its own interpreter so a hang cannot take the test run with it.
"""

import subprocess
import sys

import pytest

from mailer.content.sources.clean import MAX_FRAGMENT, clean_summary, first_image, plain_text

ONE_MB = 1024 * 1024
ADVERSARIAL = {
    "unclosed share links": '<a class="share">x',
    "unclosed social divs": '<div class="social">y ',
    "pixel attributes without a closing bracket": "<img width=1 src=pixel ",
    "image tags without a closing bracket": "<img src='a' ",
    "bare brackets": "<",
    "unclosed comments": "<!--",
    "share words outside tags": "share this ",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_html_is_cleaned_within_a_hard_limit(name):
    unit = ADVERSARIAL[name]
    program = (
        "from mailer.content.sources.clean import clean_summary, first_image, plain_text\n"
        f"html = {unit!r} * ({ONE_MB} // {len(unit)})\n"
        "clean_summary(html); first_image(html); plain_text(html)\n"
    )
    # A hard limit as a correctness check (see the module docstring), not a speed assertion.
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr


def test_share_widgets_nested_and_unclosed_go_and_the_story_stays():
    html = (
        "<p>Council votes &amp; agrees.</p>"
        '<div class="share-tools"><div><a href="https://twitter.com/x">Tweet</a></div>'
        '<span>Share on Facebook</span></div><p>After the widget.</p><a class="social">Like us'
    )
    assert clean_summary(html) == "Council votes & agrees. After the widget."


def test_the_first_real_image_skips_pixels_and_keeps_its_alt():
    html = (
        '<img src="https://t.example/pixel.gif"><img width="1" src="https://a.example/1.png">'
        '<p><img alt="The hall &amp; square" src="https://news.example.com/hall.jpg"></p>'
    )
    assert first_image(html) == ("https://news.example.com/hall.jpg", "The hall & square")
    assert first_image("<p>no images</p>") == (None, None)


def test_huge_fragments_are_cut_before_cleaning():
    text = plain_text("word " * ONE_MB)
    assert 0 < len(text) <= MAX_FRAGMENT


@pytest.mark.parametrize("unit", ["<!--", '<a class="share">x', "<img src='a' ", '<a b="'])
def test_a_feed_of_hostile_markup_is_parsed_within_a_hard_limit(unit):
    # feedparser's own sanitiser took 30 s for 200 KB of unclosed comments and grows with the
    # square (over 10 minutes for 1 MB); the same hard-limit reasoning as above applies.
    program = (
        "from datetime import UTC, datetime\n"
        "from mailer.content.sources.rss import parse_feed\n"
        f"junk = {unit!r} * ({ONE_MB} // {len(unit)})\n"
        'body = (\'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item>\'\n'
        "    '<title>T</title><link>https://a.example/x</link><description><![CDATA['\n"
        "    + junk + ']]></description></item></channel></rss>').encode()\n"
        "articles, _ = parse_feed(body, 'https://a.example/feed', datetime.now(UTC))\n"
        "assert [a.title for a in articles] == ['T']\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr


def test_relative_images_in_feed_markup_resolve_against_the_feed():
    from datetime import UTC, datetime

    from mailer.content.sources.rss import parse_feed

    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item>'
        b"<title>T</title><link>https://news.example.com/t</link><description>"
        b"&lt;img src=&quot;/img/hall.jpg&quot; alt=&quot;Hall&quot;&gt;Words"
        b"</description></item></channel></rss>"
    )
    [article], _ = parse_feed(body, "https://news.example.com/feed.xml", datetime.now(UTC))
    assert (article.image_url, article.image_alt) == (
        "https://news.example.com/img/hall.jpg",
        "Hall",
    )
