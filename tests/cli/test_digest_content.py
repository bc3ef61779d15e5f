import json
from email import message_from_bytes, policy


def test_build_show_preview(cli, tmp_path):
    assert cli("demo").exit_code == 0
    built = cli("digest", "build")
    assert built.exit_code == 0, built.output
    assert "2026-W48 created" in built.output
    again = cli("digest", "build")
    assert "exists already" in again.output
    shown = json.loads(cli("digest", "show", "2026-W48", "--json").output)
    assert len(shown["stories"]) == 5
    out = tmp_path / "issue.eml"
    preview = cli("digest", "preview", "2026-W48", "--format", "eml", "--out", str(out))
    assert preview.exit_code == 0, preview.output
    message = message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("plain",)).get_content().startswith("The Weekly Digest")
    text = cli("digest", "preview", "1", "--format", "text")
    assert "Hello Sam," in text.output


def test_build_errors_are_sentences(cli):
    bad = cli("digest", "build", "--period", "2026-99")
    assert bad.exit_code == 2
    assert "not a week" in bad.output
    empty = cli("digest", "build", "--period", "2019-W04")
    assert empty.exit_code == 1
    assert "MAILER_DIGEST_MIN_ITEMS" in empty.output
    missing = cli("digest", "show", "2019-W04")
    assert missing.exit_code == 1
    assert "no digest" in missing.output


def test_articles_related(cli):
    cli("demo")
    result = cli(
        "articles",
        "related",
        "https://news.example.com/politics/budget-passed-libraries-saved",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    titles = [r["title"] for r in data["related"]]
    assert titles and all("librar" in t.lower() or "budget" in t.lower() for t in titles)
    assert cli("articles", "related", "999999").exit_code == 1
