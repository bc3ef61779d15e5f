"""Invisible characters: what a headline or subject loses, and what it keeps."""

import pytest

from mailer.core.text import INVISIBLE, strip_invisible


@pytest.mark.parametrize("code", [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200E])
def test_bidi_controls_and_zero_width_characters_go(code):
    assert strip_invisible(f"Council{chr(code)} votes{chr(code)}") == "Council votes"


def test_every_listed_character_is_invisible_and_the_set_is_the_briefs():
    wanted = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010)}
    assert {ord(c) for c in INVISIBLE} == wanted | {0x2060, 0xFEFF}
    loose = "".join(sorted(INVISIBLE))
    assert strip_invisible(f"{loose}a {loose} b{loose}") == "a  b"


def test_a_reversed_headline_reads_as_written():
    spoofed = "Mayor \u202eseigolopa\u202c resigns \u2066\u2067x\u2069\u2069\ufeff"
    assert strip_invisible(spoofed) == "Mayor seigolopa resigns x"


def test_joiners_inside_words_and_emoji_are_kept():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # می‌خواهم
    assert strip_invisible(f"{family} {persian}") == f"{family} {persian}"
    assert strip_invisible("\u200dlead \u200c\u200dtrail\u200d") == "lead trail"
    assert strip_invisible("Plain ASCII stays as it is") == "Plain ASCII stays as it is"


def test_control_characters_go_but_line_breaks_stay():
    assert strip_invisible("Red\x1b[31m alert\x07\x7f\x85\x9b") == "Red[31m alert"
    assert strip_invisible("Line one\nline two\ttab\r\n") == "Line one\nline two\ttab\r\n"
