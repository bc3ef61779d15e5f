"""An editor's session ends at logout, at a password change, when idle, and at its full age."""

from datetime import timedelta

import pytest

from mailer.core.models import Editor
from mailer.editions.accounts import add_editor, set_password
from tests.fixtures.editors import FAST_COST
from tests.web.test_admin import PASSWORD, csrf_from, login


@pytest.fixture
def editor_account(db, now):
    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def opens_admin(app, cookie: str) -> bool:
    """A fresh browser holding only this cookie, as someone who copied it would."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/admin/").status_code == 200


def at(services, moment) -> None:
    services.clock = lambda: moment


def test_a_cookie_copied_before_logout_opens_nothing_after(app, client, editor_account):
    login(client)
    copied = session_cookie(client)
    assert opens_admin(app, copied)
    page = client.get("/admin/").get_data(as_text=True)
    assert client.post("/admin/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert not opens_admin(app, copied)
    assert login(client).status_code == 302 and client.get("/admin/").status_code == 200


def test_a_password_change_ends_every_session(app, client, editor_account, db, now):
    login(client)
    copied = session_cookie(client)
    with db.session() as session:
        set_password(session, "ed@example.com", "another long password", now)
    assert not opens_admin(app, copied)
    assert client.get("/admin/").status_code == 302
    assert login(client, password="another long password").status_code == 302


def test_the_cookie_holds_nothing_from_the_password(app, client, editor_account, db):
    login(client)
    data = app.session_interface.get_signing_serializer(app).loads(session_cookie(client))
    with db.session() as session:
        stored = session.query(Editor).filter_by(email="ed@example.com").one().password_hash
    assert all(str(value) not in stored for value in data.values() if len(str(value)) > 3)
    assert "editor_key" not in data


def test_an_idle_session_ends(app, client, editor_account, services, now, settings):
    login(client)
    idle = timedelta(minutes=settings.session_idle_minutes)
    at(services, now + idle - timedelta(minutes=1))
    assert client.get("/admin/").status_code == 200  # use keeps it alive...
    at(services, now + 2 * idle - timedelta(minutes=2))
    assert client.get("/admin/").status_code == 200
    at(services, now + 3 * idle)  # ...and a full idle interval without use ends it
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert client.get("/admin/").status_code == 302


def test_a_busy_session_still_ends_at_its_full_age(app, client, editor_account, services, now):
    login(client)
    lifetime = timedelta(hours=services.settings.session_max_hours)
    moment = now
    while moment + timedelta(minutes=30) < now + lifetime:
        moment += timedelta(minutes=30)
        at(services, moment)
        assert client.get("/admin/").status_code == 200
    at(services, now + lifetime + timedelta(minutes=1))
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("name", ["session_idle_minutes", "session_max_hours"])
def test_lifetimes_are_settings(settings, name):
    assert getattr(settings, name) > 0
