from mailer.readers.suppressions import address_hash, is_suppressed, suppress, unsuppress


def test_suppress_is_keyed_by_normalised_hash(db, now):
    with db.session() as session:
        suppress(session, " Reader@Example.com ", "bounce", now, source="test")
    with db.session() as session:
        assert is_suppressed(session, "reader@example.com")
        assert not is_suppressed(session, "other@example.com")


def test_erasure_keeps_only_the_hash_and_cannot_be_lifted(db, now):
    with db.session() as session:
        suppress(session, "gone@example.com", "unsubscribe", now)
        row = suppress(session, "gone@example.com", "erased", now, keep_address=False)
        assert row.email is None
        assert row.email_hash == address_hash("gone@example.com")
        assert row.reason == "erased"
    with db.session() as session:
        assert unsuppress(session, "gone@example.com") is False
        assert is_suppressed(session, "gone@example.com")


def test_manual_suppression_can_be_lifted(db, now):
    with db.session() as session:
        suppress(session, "x@example.com", "manual", now)
    with db.session() as session:
        assert unsuppress(session, "x@example.com") is True
        assert not is_suppressed(session, "x@example.com")
