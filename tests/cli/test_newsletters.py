import json

from mailer.delivery import ledger
from mailer.readers import newsletters


def test_add_list_edit_and_build_per_newsletter(cli):
    added = cli(
        "newsletters", "add", "daily", "--name", "Daily Brief", "--cadence", "daily",
        "--hour", "6", "--topics", "Politics, sport, Science",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Newsletter daily added (daily)." in added.output
    again = cli("newsletters", "add", "daily", "--name", "Again")
    assert (again.exit_code, again.output.strip()) == (
        1,
        "Error: a newsletter called 'daily' exists already.",
    )
    bad = cli("newsletters", "add", "Not A Slug", "--name", "X")
    assert bad.exit_code == 1 and "a slug is lower-case letters" in bad.output
    edited = cli("newsletters", "edit", "daily", "--from-address", "daily@example.com")
    assert edited.exit_code == 0, edited.output
    assert cli("newsletters", "edit", "nope", "--name", "X").exit_code == 1
    rows = json.loads(cli("newsletters", "list", "--json").output)
    assert [(r["slug"], r["default"], r["cadence"]) for r in rows] == [
        ("weekly", True, "weekly"),
        ("daily", False, "daily"),
    ]
    assert rows[1]["from_address"] == "daily@example.com" and rows[1]["hour"] == 6

    assert cli("demo").exit_code == 0
    built = cli("digest", "build", "--newsletter", "daily")
    assert built.exit_code == 0, built.output
    assert built.output.startswith("2026-11-25 created")  # a daily newsletter's period is a day
    shown = json.loads(
        cli("digest", "show", "2026-11-25", "--newsletter", "daily", "--json").output
    )
    assert {s["section"] for s in shown["stories"]} == {"Politics", "Sport", "Science"}
    missing = cli("digest", "show", "2026-11-25")  # the default newsletter has no such issue
    assert missing.exit_code == 1
    unknown = cli("digest", "build", "--newsletter", "nope")
    assert unknown.exit_code == 1 and "no newsletter 'nope'" in unknown.output


def test_an_operator_adds_a_reader_to_chosen_newsletters(cli, db):
    assert cli("newsletters", "add", "daily", "--name", "Daily Brief").exit_code == 0
    added = cli("subscribers", "add", "ops@example.com", "--confirmed", "--newsletter", "daily")
    assert added.exit_code == 0, added.output
    assert ledger.reader_count(db) == 0  # not the default newsletter
    with db.session() as session:
        daily = newsletters.find(session, "daily").id
    assert ledger.reader_count(db, newsletter_id=daily) == 1
    wrong = cli("subscribers", "add", "x@example.com", "--newsletter", "nope")
    assert wrong.exit_code == 1 and "There is no newsletter called 'nope'." in wrong.output
