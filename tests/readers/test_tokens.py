import json
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer

from mailer.readers.tokens import PURPOSES, TokenExpired, TokenInvalid, make_token, read_token

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PAYLOAD = {"sid": 7, "n": "nonce7"}


def test_click_links_are_the_same_at_any_moment():
    first = make_token("s3cret", "click", PAYLOAD, NOW)
    later = make_token("s3cret", "click", PAYLOAD, NOW + timedelta(days=400))
    assert first == later
    assert read_token("s3cret", "click", first) == PAYLOAD


@pytest.mark.parametrize("purpose", ["preferences", "data"])
def test_preferences_and_data_links_carry_the_time_of_their_mail(purpose):
    """A forwarded mail's preferences link stops working, as its unsubscribe link does."""
    token = make_token("s3cret", purpose, PAYLOAD, NOW)
    assert read_token("s3cret", purpose, token, 3600, NOW + timedelta(minutes=59)) == PAYLOAD
    with pytest.raises(TokenExpired):
        read_token("s3cret", purpose, token, 3600, NOW + timedelta(minutes=61))


def test_unsubscribe_links_carry_the_time_of_their_mail():
    """Hardening finding 6: so that a link from long ago can be told from a recent one."""
    token = make_token("s3cret", "unsubscribe", PAYLOAD, NOW)
    day = 86400
    assert read_token("s3cret", "unsubscribe", token, 60 * day, NOW + timedelta(59)) == PAYLOAD
    with pytest.raises(TokenExpired) as caught:
        read_token("s3cret", "unsubscribe", token, 60 * day, NOW + timedelta(61))
    assert caught.value.payload == PAYLOAD
    with pytest.raises(TokenInvalid):  # an untimed token is not read as a timed one
        read_token("s3cret", "unsubscribe", token.rsplit(".", 2)[0] + "." + token.rsplit(".")[-1])


def test_confirm_links_expire_and_keep_their_payload():
    token = make_token("s3cret", "confirm", PAYLOAD, NOW)
    assert read_token("s3cret", "confirm", token, 3600, NOW + timedelta(minutes=59)) == PAYLOAD
    with pytest.raises(TokenExpired) as caught:
        read_token("s3cret", "confirm", token, 3600, NOW + timedelta(minutes=61))
    assert caught.value.payload == PAYLOAD


@pytest.mark.parametrize(
    ("made_for", "read_as", "secret"),
    [
        ("unsubscribe", "preferences", "s3cret"),
        ("preferences", "confirm", "s3cret"),
        ("confirm", "unsubscribe", "s3cret"),
        ("unsubscribe", "unsubscribe", "another"),
    ],
)
def test_a_token_opens_only_its_own_link_under_its_own_secret(made_for, read_as, secret):
    token = make_token("s3cret", made_for, PAYLOAD, NOW)
    with pytest.raises(TokenInvalid):
        read_token(secret, read_as, token, 3600, NOW)


def test_a_tampered_token_is_invalid():
    token = make_token("s3cret", "unsubscribe", PAYLOAD)
    with pytest.raises(TokenInvalid):
        read_token("s3cret", "unsubscribe", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))


def test_an_unknown_purpose_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown token purpose"):
        make_token("s3cret", "reset", PAYLOAD)


@pytest.mark.parametrize("purpose", sorted(PURPOSES))
@pytest.mark.parametrize(
    "payload",
    [
        PAYLOAD,
        {"sid": 12345678, "n": "0f3a9c1d2b4e5f60", "fn": 'Zoë 😀 "quoted" </script>'},
        {"d": 3, "k": "s", "i": 9, "u": "https://example.com/" + "a/" * 80, "h": "example.com"},
    ],
)
def test_tokens_are_itsdangerous_tokens(purpose, payload):
    """make_token signs without itsdangerous' per-call set-up; its tokens must be exactly what
    itsdangerous makes (links already in readers' inboxes, and those we mail now, are read by
    itsdangerous), bar compression of short payloads, which the reader accepts either way."""
    salt = f"mailer.{purpose}"
    if PURPOSES[purpose]:

        class At(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(NOW.timestamp())

        theirs = URLSafeTimedSerializer("s3cret", salt=salt, signer=At).dumps(payload)
    else:
        theirs = URLSafeSerializer("s3cret", salt=salt).dumps(payload)
    ours = make_token("s3cret", purpose, payload, NOW)
    assert read_token("s3cret", purpose, ours, 3600, NOW) == payload
    assert ours == theirs or (not ours.startswith(".") and theirs.startswith("."))
    if len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()) >= 64:
        assert ours == theirs
