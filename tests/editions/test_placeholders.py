"""Provider placeholders from a feed: spelled so no provider fills them, shown as they were."""

from html.parser import HTMLParser

import pytest

from mailer.editions.placeholders import hide_provider_placeholders

PLACEHOLDERS = [
    "{{{ pm:unsubscribe }}}",
    "{{{pm:unsubscribe}}}",
    "%unsubscribe_url%",
    "%tag_unsubscribe_url%",
    "%recipient.first_name%",
    "%asm_global_unsubscribe_raw_url%",
    "{{amazonSESUnsubscribeUrl}}",
    "{{{RESEND_UNSUBSCRIBE_URL}}}",
]


class Seen(HTMLParser):
    """What a browser shows and fetches: text and attribute values, references decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.seen: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.seen += [f"{tag}.{name}={value}" for name, value in attrs]

    def handle_data(self, data):
        self.seen.append(data)


def seen(document: str) -> list[str]:
    parser = Seen()
    parser.feed(document)
    parser.close()
    return parser.seen


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_a_placeholder_is_shown_but_not_spelled(placeholder):
    document = (
        f'<p>Title {placeholder} end</p><img src="https://img.example/p.gif?x={placeholder}" '
        f'alt="{placeholder}"><a href="https://other.example/?q={placeholder}">link</a>'
    )
    hidden = hide_provider_placeholders(document)
    assert placeholder not in hidden
    assert seen(hidden) == seen(document)


def test_style_blocks_our_markers_and_ordinary_percentages_are_left_alone():
    document = (
        "<style>@media (max-width: 620px) { .sheet { width: 100% !important; } }</style>"
        '<p style="width:100%">Rates rose 5% to 7%. %%GREETING-0a1b2c%%</p>'
        '<a href="https://news.example.com/a?q=caf%C3%A9">Café</a>'
    )
    hidden = hide_provider_placeholders(document)
    assert hidden.startswith(document.split("</style>")[0] + "</style>")
    assert "Rates rose 5% to 7%. %%GREETING-0a1b2c%%" in hidden
    assert seen(hidden) == seen(document)
