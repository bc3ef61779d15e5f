import json


def test_editors_add_list_remove(cli):
    added = cli("editors", "add", "ed@example.com", input="a long password\na long password\n")
    assert added.exit_code == 0, added.output
    assert "Editor ed@example.com added (editor)" in added.output
    listed = cli("editors", "list", "--json")
    rows = json.loads(listed.output)
    assert [(r["email"], r["role"]) for r in rows] == [("ed@example.com", "editor")]
    again = cli("editors", "add", "ed@example.com", input="a long password\na long password\n")
    assert again.exit_code == 1
    assert "exists already" in again.output
    assert cli("editors", "remove", "ed@example.com").exit_code == 0
    missing = cli("editors", "remove", "ed@example.com")
    assert missing.exit_code == 1
    assert "no editor" in missing.output


def test_editors_add_viewer_with_short_password_fails_cleanly(cli):
    result = cli("editors", "add", "v@example.com", "--role", "viewer", input="short\nshort\n")
    assert result.exit_code == 1
    assert "10 characters" in result.output
    assert "Traceback" not in result.output


def test_suppressions_add_list_remove(cli):
    assert cli("suppressions", "add", "a@example.com", "B@example.com").exit_code == 0
    rows = json.loads(cli("suppressions", "list", "--json").output)
    assert sorted(r["address"] for r in rows) == ["a@example.com", "b@example.com"]
    assert all(r["reason"] == "manual" for r in rows)
    assert cli("suppressions", "remove", "a@example.com").exit_code == 0
    gone = cli("suppressions", "remove", "a@example.com")
    assert gone.exit_code == 1
    bad = cli("suppressions", "add", "not-an-address")
    assert bad.exit_code == 1
    assert "not an email address" in bad.output


def test_editors_password_changes_it_and_refuses_short_ones_and_strangers(cli, db, now):
    from mailer.core.models import Editor
    from mailer.editions.accounts import check_password

    cli("editors", "add", "ed@example.com", input="a long password\na long password\n")
    changed = cli("editors", "password", "ed@example.com", input="another password\n" * 2)
    assert changed.exit_code == 0 and "sessions have ended" in changed.output
    with db.session() as session:
        editor = session.query(Editor).filter_by(email="ed@example.com").one()
        assert check_password(editor.password_hash, "another password")
        assert editor.session_generation == 1
    short = cli("editors", "password", "ed@example.com", input="short\nshort\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    stranger = cli("editors", "password", "no@example.com", input="another password\n" * 2)
    assert stranger.exit_code != 0 and "no editor" in stranger.output
