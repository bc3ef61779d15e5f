from mailer.content.sources.canonical import canonical_url, is_http
from mailer.content.sources.clean import clean_summary, excerpt, plain_text


def test_tracking_parameters_and_fragments_go():
    assert (
        canonical_url("HTTPS://News.Example.com:443/a/b?utm_source=x&id=7&fbclid=1#top")
        == "https://news.example.com/a/b?id=7"
    )
    assert canonical_url("http://x.example/p?gclid=1&mc_cid=2") == "http://x.example/p"


def test_one_spelling_for_each_path():
    assert canonical_url("https://x.example/a\\b\\c") == "https://x.example/a/b/c"
    assert canonical_url("https://x.example/news%2Fstory") == "https://x.example/news/story"
    assert canonical_url("https://x.example/news%2fstory") == "https://x.example/news/story"
    assert canonical_url("https://x.example/%7Eed/caf%c3%a9") == "https://x.example/~ed/caf%C3%A9"
    assert canonical_url("https://x.example/a%20b%3F") == "https://x.example/a%20b%3F"
    assert canonical_url("https://x.example/p?track=rss&page=2") == "https://x.example/p?page=2"


def test_clean_summary_drops_pixels_share_buttons_and_scripts():
    html = (
        '<p>Real words.<script>steal()</script><img src="https://x/p.gif" width="1" height="1">'
        '<div class="share-tools"><a href="#">Share</a></div></p>'
    )
    assert clean_summary(html) == "Real words."
    assert plain_text("<b>Bold</b> &amp; <i>bright</i>") == "Bold & bright"


def test_excerpt_is_at_most_50_words():
    assert len(excerpt("word " * 80).split()) == 50


def test_broken_urls_are_not_http_and_never_raise():
    for broken in ("http://[::1/x", "http://news.example.com:99999/x"):
        assert not is_http(broken)
        assert canonical_url(broken) == broken  # it can only ever match itself
    assert not is_http("http://")
