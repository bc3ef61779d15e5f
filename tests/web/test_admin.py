import re

import pytest

from mailer.editions.accounts import add_editor
from tests.fixtures.editors import FAST_COST

PASSWORD = "a long password"


@pytest.fixture
def editor_account(db, now):
    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)
        add_editor(session, "view@example.com", PASSWORD, "viewer", now, cost=FAST_COST)


def csrf_from(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def login(client, email="ed@example.com", password=PASSWORD, follow=False):
    page = client.get("/admin/login").get_data(as_text=True)
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page)},
        follow_redirects=follow,
    )


def test_admin_pages_need_a_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_login_shows_the_dashboard(client, editor_account):
    response = login(client, follow=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Dashboard" in page
    assert "ed@example.com (editor)" in page
    assert "Readers in and out per week" in page


def test_wrong_password_is_refused_without_saying_which_part(client, editor_account):
    response = login(client, password="wrong password")
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    unknown = login(client, email="nobody@example.com")
    assert unknown.status_code == 401


def test_login_without_csrf_token_is_refused(client, editor_account):
    response = client.post("/admin/login", data={"email": "ed@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_login_attempts_are_rate_limited(client, editor_account):
    statuses = [login(client, password="wrong password").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_logout_ends_the_session(client, editor_account):
    page = login(client, follow=True).get_data(as_text=True)
    response = client.post("/admin/logout", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, editor_account):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_open_redirect_after_login_is_refused(client, editor_account):
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post(
        "/admin/login?next=//evil.example.com/",
        data={"email": "ed@example.com", "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.headers["Location"].endswith("/admin/")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/admin/no-such-page"),
        ("GET", "/admin/digests/999999/nothing"),
        ("POST", "/admin/secret-backup"),
        ("GET", "/admin/logout"),  # a real path with the wrong method
        ("GET", "/admin"),
    ],
)
def test_unknown_admin_paths_redirect_like_real_ones(client, method, path):
    """Hardening finding 3: a 404 before sign-in would tell which admin pages exist."""
    response = client.open(path, method=method)
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_unknown_admin_paths_answer_404_after_sign_in(client, editor_account):
    login(client)
    assert client.get("/admin/no-such-page").status_code == 404
