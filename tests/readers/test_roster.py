import csv
import io

from sqlalchemy import func, select

from mailer.core.models import ConsentEvent, Subscriber
from mailer.readers.roster import export_subscribers, import_subscribers, read_rows
from mailer.readers.suppressions import suppress


def rows_from(text: str):
    return read_rows(io.StringIO(text))


def test_import_skips_bad_rows_with_line_numbers(db, now):
    text = (
        "email,first_name\n"
        "ann@example.com,Ann\n"
        "not-an-address,Bob\n"
        "ANN@example.com,Ann again\n"
        "cat@example.com,Cat<script>\n"
        "dan@example.com,\n"
    )
    report = import_subscribers(db, rows_from(text), now, confirmed=True)
    assert report.added == 3  # a bad name costs the row its greeting, not its address
    assert report.duplicates == 1
    assert [line for line, _ in report.invalid] == [3]
    assert [(line, value) for line, value, _ in report.names_dropped] == [(5, "Cat<script>")]
    with db.session() as session:
        stored = {s.email: s for s in session.scalars(select(Subscriber))}
        assert set(stored) == {"ann@example.com", "cat@example.com", "dan@example.com"}
        assert stored["ann@example.com"].status == "confirmed"
        assert stored["ann@example.com"].first_name == "Ann"
        assert stored["cat@example.com"].first_name is None
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 3


def test_import_never_touches_stored_or_suppressed_addresses(db, now):
    import_subscribers(db, rows_from("email\nleft@example.com\n"), now, confirmed=True)
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        sub.status = "unsubscribed"
        suppress(session, "bounced@example.com", "bounce", now)
        suppress(session, "erased@example.com", "erased", now, keep_address=False)
    text = "email\nleft@example.com\nbounced@example.com\nerased@example.com\nnew@example.com\n"
    report = import_subscribers(db, rows_from(text), now, confirmed=True)
    assert (report.added, report.existing, report.suppressed) == (1, 1, 2)
    with db.session() as session:
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses == {"left@example.com": "unsubscribed", "new@example.com": "confirmed"}


def test_import_without_confirmed_flag_adds_pending(db, now):
    import_subscribers(db, rows_from("email\np@example.com\n"), now, confirmed=False)
    with db.session() as session:
        assert session.scalar(select(Subscriber.status)) == "pending"


def test_a_file_without_an_email_column_is_refused(db, now):
    import pytest

    from mailer.core.errors import MailerError

    with pytest.raises(MailerError, match="'email' column"):
        import_subscribers(db, rows_from("address\nx@example.com\n"), now, confirmed=True)


def test_export_round_trips(db, now):
    import_subscribers(db, rows_from("email,first_name\na@example.com,Al\n"), now, confirmed=True)
    out = io.StringIO()
    assert export_subscribers(db, out) == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["email"] == "a@example.com"
    assert rows[0]["first_name"] == "Al"
    assert rows[0]["status"] == "confirmed"


def test_import_applies_the_join_forms_rules(db, now):
    text = (
        "email,first_name\n"
        "ok@example.com,Zoë\n"
        f"long@example.com,{'A' * 61}\n"
        "zero\u200bwidth@example.com,Ann\n"
        "rtl@example.com,Ann\u202e\n"
        ",Nobody\n"
    )

    report = import_subscribers(db, rows_from(text), now, confirmed=True)
    assert report.added == 3
    assert report.invalid == [
        (4, "The address contains a character that is not allowed."),
        (6, "Enter your email address."),
    ]
    assert report.names_dropped == [
        (3, "A" * 61, "Keep your first name to 60 characters."),
        (5, "Ann\u202e", "Your name contains a character that is not allowed."),
    ]
    with db.session() as session:
        names = dict(session.execute(select(Subscriber.email, Subscriber.first_name)).all())
    assert names == {"ok@example.com": "Zoë", "long@example.com": None, "rtl@example.com": None}
