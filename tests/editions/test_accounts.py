import pytest
from sqlalchemy import select

from mailer.core.errors import Conflict, MailerError
from mailer.core.models import Editor
from mailer.editions.accounts import (
    add_editor,
    authenticate,
    check_password,
    hash_password,
    needs_rehash,
)
from tests.fixtures.editors import FAST_COST


def test_password_hash_round_trip():
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$131072$8$1$")  # the real cost: OWASP's N=2^17, r=8, p=1
    assert "correct horse" not in stored
    assert check_password(stored, "correct horse battery")
    assert not check_password(stored, "wrong horse battery")
    assert not check_password("garbage", "x")


def test_add_and_authenticate(db, now):
    with db.session() as session:
        add_editor(session, "Ed@Example.com", "a long password", "editor", now, cost=FAST_COST)
    with db.session() as session:
        editor = authenticate(session, "ed@example.com", "a long password", now, cost=FAST_COST)
        assert editor is not None
        assert editor.last_login_at == now
        assert (
            authenticate(session, "ed@example.com", "wrong password!", now, cost=FAST_COST) is None
        )
        assert (
            authenticate(session, "nobody@example.com", "a long password", now, cost=FAST_COST)
            is None
        )
        assert (
            authenticate(session, "not an address", "a long password", now, cost=FAST_COST) is None
        )


def test_add_refuses_duplicates_short_passwords_and_bad_roles(db, now):
    with db.session() as session:
        add_editor(session, "ed@example.com", "a long password", "editor", now, cost=FAST_COST)
    with pytest.raises(Conflict), db.session() as session:
        add_editor(session, "ED@example.com", "a long password", "editor", now, cost=FAST_COST)
    with pytest.raises(MailerError, match="10 characters"), db.session() as session:
        add_editor(session, "x@example.com", "short", "editor", now, cost=FAST_COST)
    with pytest.raises(MailerError, match="role"), db.session() as session:
        add_editor(session, "y@example.com", "a long password", "admin", now, cost=FAST_COST)


def test_an_old_cheap_hash_is_upgraded_at_the_next_sign_in(db, now):
    """Hardening finding 10: hashes made at N=2^14 (the old cost) are replaced on login."""
    with db.session() as session:
        add_editor(session, "ed@example.com", "a long password", "editor", now, cost=FAST_COST)
    old = hash_password("a long password", FAST_COST)
    assert needs_rehash(old, FAST_COST + 1) and not needs_rehash(old, FAST_COST)
    with db.session() as session:
        session.scalar(select(Editor)).password_hash = old
    with db.session() as session:  # a wrong password changes nothing
        assert authenticate(session, "ed@example.com", "wrong password!", now, cost=11) is None
    with db.session() as session:
        assert session.scalar(select(Editor)).password_hash == old
    with db.session() as session:
        assert authenticate(session, "ed@example.com", "a long password", now, cost=11)
    with db.session() as session:
        upgraded = session.scalar(select(Editor)).password_hash
    assert upgraded.startswith("scrypt$2048$8$1$") and check_password(upgraded, "a long password")
    assert not needs_rehash(upgraded, 11)


def test_a_stored_hash_asking_for_absurd_memory_is_refused_not_run():
    stored = hash_password("pw", FAST_COST).replace("$1024$", f"${2**30}$", 1)
    assert not check_password(stored, "pw")
