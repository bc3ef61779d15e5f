import json
import random


def write_csv(path, count, bad_every=0):
    lines = ["email,first_name"]
    bad = []
    for i in range(count):
        if bad_every and i % bad_every == 0:
            lines.append(f"broken-{i}-at-example.com,Name")
            bad.append(len(lines))  # the CSV line number of this row
        else:
            lines.append(f"reader{i}@example.com,Reader")
    path.write_text("\n".join(lines) + "\n")
    return bad


def test_import_100k_rows_with_bad_rows_mixed_in(cli, tmp_path):
    path = tmp_path / "subs.csv"
    bad_lines = write_csv(path, 100_000, bad_every=997)
    result = cli("subscribers", "import", str(path), "--confirmed", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"] == 100_000 - len(bad_lines)
    assert [row["line"] for row in report["invalid"]] == bad_lines
    counts = json.loads(cli("subscribers", "count", "--json").output)
    assert counts["confirmed"] == report["added"]
    head = tmp_path / "head.csv"
    head.write_text("\n".join(path.read_text().splitlines()[:2001]) + "\nnew@example.com,New\n")
    again = json.loads(cli("subscribers", "import", str(head), "--json").output)
    assert again["added"] == 1
    assert again["existing"] + len(again["invalid"]) == 2000


def test_import_reports_in_plain_text_when_piped(cli, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("email\nok@example.com\nnope\n")
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0
    assert "line 3: skipped" in result.output
    assert "1 added" in result.output


def test_import_of_a_missing_or_binary_file_is_a_sentence(cli, tmp_path):
    missing = cli("subscribers", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(random.Random(1).randrange(128, 256) for _ in range(200)))
    result = cli("subscribers", "import", str(binary))
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_export_writes_csv(cli, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("email\none@example.com\n")
    cli("subscribers", "import", str(path), "--confirmed")
    out = tmp_path / "out.csv"
    result = cli("subscribers", "export", "--out", str(out))
    assert result.exit_code == 0
    assert "one@example.com" in out.read_text()


def test_import_keeps_an_address_whose_name_the_form_refuses(cli, db, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("email,first_name\nr2@example.com,R2D2\nann@example.com,Ann\n")
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "line 2: imported without the name 'R2D2'" in result.output
    assert "2 added" in result.output and "1 names left out" in result.output
    assert "pending: they get no digest and no confirmation mail" in result.output
    shown = json.loads(cli("subscribers", "show", "r2@example.com", "--json").output)
    assert shown["first_name"] is None and shown["status"] == "pending"


def test_import_json_report_names_the_status_and_dropped_names(cli, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("email,first_name\nr2@example.com,R2D2\n")
    report = json.loads(cli("subscribers", "import", str(path), "--confirmed", "--json").output)
    assert report["status"] == "confirmed" and report["added"] == 1
    assert report["names_dropped"] == [
        {"line": 2, "value": "R2D2", "error": report["names_dropped"][0]["error"]}
    ]
    assert "letters" in report["names_dropped"][0]["error"]


def test_import_subscribes_confirmed_readers_to_the_named_newsletters(cli, db, now, tmp_path):
    from sqlalchemy import select

    from mailer.core.models import Newsletter, NewsletterSubscription, Subscriber
    from mailer.readers import newsletters

    newsletters.add(db, now, slug="daily", name="Daily")
    newsletters.add(db, now, slug="sport", name="Sport")
    path = tmp_path / "list.csv"
    path.write_text("email\nann@example.com\nbob@example.com\n")
    args = ("subscribers", "import", str(path), "--confirmed", "--json")
    result = cli(*args, "--newsletter", "daily", "--newsletter", "sport")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        taken = session.execute(
            select(Subscriber.email, Newsletter.slug)
            .join(NewsletterSubscription, NewsletterSubscription.subscriber_id == Subscriber.id)
            .join(Newsletter, Newsletter.id == NewsletterSubscription.newsletter_id)
            .where(NewsletterSubscription.status == "active")
        ).all()
    assert sorted(taken) == [
        ("ann@example.com", "daily"),
        ("ann@example.com", "sport"),
        ("bob@example.com", "daily"),
        ("bob@example.com", "sport"),
    ]


def test_import_refuses_a_newsletter_without_confirmed_or_unknown(cli, db, now, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("email\nann@example.com\n")
    pending = cli("subscribers", "import", str(path), "--newsletter", "weekly", "--json")
    assert pending.exit_code != 0 and "--newsletter needs --confirmed" in pending.output
    unknown = cli("subscribers", "import", str(path), "--confirmed", "--newsletter", "nope")
    assert unknown.exit_code != 0 and "no newsletter called 'nope'" in unknown.output
    assert "Traceback" not in pending.output + unknown.output
    assert json.loads(cli("subscribers", "count", "--json").output).get("confirmed", 0) == 0
