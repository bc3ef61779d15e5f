"""Provider batching with per-reader content: one call carries many readers, each reader gets
exactly the message a lone send would have made, and a bad address fails only its reader."""

import pytest

from mailer.delivery.transports.base import Message
from mailer.editions.render import marker, new_nonce
from tests.delivery.transports.common import build, message

NONCE = new_nonce()
GREETING, UNSUBSCRIBE = marker("greeting", NONCE), marker("unsubscribe_url", NONCE)
# what a story could say: every provider's placeholder spelling, as text
HOSTILE = "Try %recipient.first% or {{name}} or -r1234-"


def batch_message(n: int, recipient: str | None = None, story: str = "Stories") -> Message:
    """A digest message in the batch form: the shared issue with markers, the reader's values."""
    return message(
        n,
        recipient,
        subject=f"Top stories {GREETING}",
        text=f"{GREETING}\n{story}\nLeave: {UNSUBSCRIBE}\n",
        html=f'<p>{GREETING}</p><p>{story}</p><a href="{UNSUBSCRIBE}">Leave</a>',
        markers={"greeting": GREETING, "unsubscribe_url": UNSUBSCRIBE},
        values={
            "greeting": f"Hello R&D <{n}>,",
            "unsubscribe_url": f"https://news.example.com/u/tok-{n}?a=1&b=2",
        },
    )


def delivered_for(fake) -> dict[str, dict]:
    return {d["to"]: d for d in fake.delivered}


def assert_each_reader_got_their_own(fake, messages: list[Message]) -> None:
    """What the provider built for each reader is what a lone message would have said."""
    got = delivered_for(fake)
    for sent in messages:
        mine, whole = got[sent.recipient], sent.filled()
        assert (mine["subject"], mine["text"], mine["html"]) == (
            whole.subject,
            whole.text,
            whole.html,
        )
        assert mine["headers"]["List-Unsubscribe"] == sent.headers["List-Unsubscribe"]
        assert mine["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


PERSONALISING = ["sendgrid_fake", "mailgun_fake", "ses_fake"]


@pytest.mark.parametrize("fake_name", PERSONALISING)
def test_one_call_carries_every_reader_with_their_own_values_and_headers(fake_name, request):
    fake = request.getfixturevalue(fake_name)
    messages = [batch_message(n) for n in range(1, 6)]
    results = build(fake.dsn).send(messages)
    assert [r.status for r in results] == ["queued"] * 5
    assert [r.recipient for r in results] == [m.recipient for m in messages]
    assert len(fake.server.requests) == 1
    assert_each_reader_got_their_own(fake, messages)
    assert len({r.provider_id for r in results}) >= 1 and all(r.provider_id for r in results)


@pytest.mark.parametrize("fake_name", ["sendgrid_fake", "mailgun_fake"])
def test_story_text_spelling_a_placeholder_is_never_substituted(fake_name, request):
    fake = request.getfixturevalue(fake_name)
    messages = [batch_message(n, story=HOSTILE) for n in range(1, 4)]
    results = build(fake.dsn).send(messages)
    assert [r.status for r in results] == ["queued"] * 3
    assert_each_reader_got_their_own(fake, messages)
    assert all(HOSTILE in d["text"] for d in fake.delivered)


def test_sendgrid_payload_shape(sendgrid_fake):
    messages = [batch_message(n) for n in (1, 2)]
    build(sendgrid_fake.dsn).send(messages)
    (call,) = sendgrid_fake.calls
    text = call["content"][0]["value"]
    assert NONCE not in str(call) and "tok-1" not in text  # content once, no reader in it
    first, second = call["personalizations"]
    assert first["to"] == [{"email": "reader1@example.com"}]
    assert first["headers"] == {
        "List-Unsubscribe": messages[0].headers["List-Unsubscribe"],
        "Message-ID": "<d1.x@example.com>",
    }
    assert call["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["custom_args"] == {"delivery": "1"}
    assert set(first["substitutions"]) == set(second["substitutions"])
    assert "Hello R&amp;D &lt;1&gt;," in first["substitutions"].values()  # the HTML part's value


def test_mailgun_payload_shape(mailgun_fake):
    messages = [batch_message(n) for n in (1, 2)]
    build(mailgun_fake.dsn).send(messages)
    (call,) = mailgun_fake.calls
    assert call["to"] == ["reader1@example.com", "reader2@example.com"]
    assert call["h:List-Unsubscribe"].startswith("%recipient.")
    assert call["h:Message-Id"].startswith("%recipient.")
    assert call["h:List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert call["v:delivery"].startswith("%recipient.")
    got = delivered_for(mailgun_fake)
    assert got["reader2@example.com"]["headers"]["Message-Id"] == "<d2.x@example.com>"
    assert got["reader2@example.com"]["variables"] == {"delivery": "2"}


def test_ses_payload_shape(ses_fake):
    messages = [batch_message(n) for n in (1, 2)]
    results = build(ses_fake.dsn).send(messages)
    (call,) = ses_fake.bulk_calls
    template = call["DefaultContent"]["Template"]
    assert NONCE not in template["TemplateContent"]["Text"]
    assert {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"} in template[
        "Headers"
    ]
    first = call["BulkEmailEntries"][0]
    assert first["Destination"] == {"ToAddresses": ["reader1@example.com"]}
    assert first["ReplacementHeaders"] == [
        {"Name": "List-Unsubscribe", "Value": messages[0].headers["List-Unsubscribe"]}
    ]
    assert first["ReplacementTags"] == [{"Name": "delivery", "Value": "1"}]
    assert [r.provider_id for r in results] == [d["message_id"] for d in ses_fake.delivered]


def test_ses_with_a_story_spelling_braces_sends_whole_raw_messages(ses_fake):
    messages = [batch_message(n, story="{{name}}") for n in (1, 2)]
    results = build(ses_fake.dsn).send(messages)
    assert [r.status for r in results] == ["queued", "queued"]
    assert not ses_fake.bulk_calls and len(ses_fake.calls) == 2
    assert b"{{name}}" in ses_fake.calls[0]["raw"] and b"tok-1" in ses_fake.calls[0]["raw"]


def test_sendgrid_refusal_naming_readers_fails_only_them(sendgrid_fake):
    messages = [
        batch_message(1),
        batch_message(2, "broken"),
        batch_message(3),
        batch_message(4, "x"),
    ]
    results = build(sendgrid_fake.dsn).send(messages)
    assert [r.status for r in results] == ["queued", "invalid", "queued", "invalid"]
    assert "valid address" in results[1].error
    assert [len(c["personalizations"]) for c in sendgrid_fake.calls] == [2]
    assert sorted(delivered_for(sendgrid_fake)) == ["reader1@example.com", "reader3@example.com"]


def test_mailgun_refusal_naming_nobody_is_halved_until_the_bad_address_is_found(mailgun_fake):
    messages = [batch_message(n) for n in range(8)]
    messages[5] = batch_message(5, "broken-address")
    results = build(mailgun_fake.dsn).send(messages)
    assert [r.status for r in results] == ["queued"] * 5 + ["invalid"] + ["queued"] * 2
    assert sorted(delivered_for(mailgun_fake)) == sorted(
        m.recipient for i, m in enumerate(messages) if i != 5
    )
    assert len(mailgun_fake.server.requests) <= 1 + 2 * 3  # log2(8) rounds of halving


def test_ses_entry_results_are_per_reader(ses_fake):
    messages = [batch_message(1), batch_message(2, "blocked@x.org"), batch_message(3)]
    results = build(ses_fake.dsn).send(messages)
    assert [(r.status, r.retryable) for r in results] == [
        ("queued", False),
        ("rejected", False),
        ("queued", False),
    ]
    assert "MESSAGE_REJECTED" in results[1].error


def test_results_keep_the_order_of_mixed_messages(sendgrid_fake):
    messages = [batch_message(1), message(7), batch_message(2), message(8), batch_message(3)]
    results = build(sendgrid_fake.dsn).send(messages)
    assert [r.recipient for r in results] == [m.recipient for m in messages]
    assert len(sendgrid_fake.calls) == 3  # the three readers of one issue, then one each


def test_the_same_address_twice_never_shares_a_call(mailgun_fake):
    twice = [batch_message(1), batch_message(2, "reader1@example.com")]
    results = build(mailgun_fake.dsn).send(twice)
    assert [r.status for r in results] == ["queued", "queued"]
    assert len(mailgun_fake.calls) == 2


@pytest.mark.parametrize("fake_name", ["postmark_fake", "resend_fake"])
def test_providers_without_personalisation_get_whole_messages_in_one_call(fake_name, request):
    fake = request.getfixturevalue(fake_name)
    messages = [batch_message(n) for n in range(1, 4)]
    results = build(fake.dsn).send(messages)
    assert [r.status for r in results] == ["queued"] * 3
    (call,) = fake.calls
    assert NONCE not in str(call)
    assert "tok-2" in str(call[1])
