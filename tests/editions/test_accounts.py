import pytest

from mailer.core.errors import Conflict, MailerError
from mailer.editions.accounts import add_editor, authenticate, check_password, hash_password


def test_password_hash_round_trip():
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert check_password(stored, "correct horse battery")
    assert not check_password(stored, "wrong horse battery")
    assert not check_password("garbage", "x")


def test_add_and_authenticate(db, now):
    with db.session() as session:
        add_editor(session, "Ed@Example.com", "a long password", "editor", now)
    with db.session() as session:
        editor = authenticate(session, "ed@example.com", "a long password", now)
        assert editor is not None
        assert editor.last_login_at == now
        assert authenticate(session, "ed@example.com", "wrong password!", now) is None
        assert authenticate(session, "nobody@example.com", "a long password", now) is None
        assert authenticate(session, "not an address", "a long password", now) is None


def test_add_refuses_duplicates_short_passwords_and_bad_roles(db, now):
    with db.session() as session:
        add_editor(session, "ed@example.com", "a long password", "editor", now)
    with pytest.raises(Conflict), db.session() as session:
        add_editor(session, "ED@example.com", "a long password", "editor", now)
    with pytest.raises(MailerError, match="10 characters"), db.session() as session:
        add_editor(session, "x@example.com", "short", "editor", now)
    with pytest.raises(MailerError, match="role"), db.session() as session:
        add_editor(session, "y@example.com", "a long password", "admin", now)
