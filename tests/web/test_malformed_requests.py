"""Hardening finding 2: every malformed request gets a 4xx with a message, never a 500."""

from __future__ import annotations

import io

import pytest

from mailer.core import safejson
from tests.fixtures.readers import aged_stamp, altcha_token, hidden_fields
from tests.fixtures.webhooks import webhook_settings

NEWS = "https://news.example.com"
DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


@pytest.fixture
def settings_overrides(sendgrid_signer):
    return {
        "captcha": "altcha",
        "embed_origins": (NEWS,),
        **webhook_settings(sendgrid_signer.public_key),
    }


def test_safe_loader_refuses_deep_nesting_as_a_value_error():
    for body in (DEEP, DEEP_OBJECT):
        with pytest.raises(safejson.JSONTooDeep):
            safejson.loads(body)
    # Brackets inside strings are text, not nesting.
    assert safejson.loads('{"a": "' + "[" * 5000 + '"}') == {"a": "[" * 5000}
    assert safejson.loads(b'{"a": [[1]]}') == {"a": [[1]]}
    with pytest.raises(ValueError):
        safejson.loads(b"\xff\xfe")


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_api_subscribe_refuses_deep_json_with_a_400(app, body):
    client = app.test_client(use_cookies=False)
    response = client.post(
        "/api/subscribe",
        data=body,
        headers={"Origin": NEWS, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "nests deeper" in response.json["message"]


@pytest.mark.parametrize("provider", ["ses", "mailgun", "postmark", "resend", "sendgrid"])
def test_webhooks_refuse_deep_json_with_a_4xx(client, provider):
    response = client.post(f"/webhooks/{provider}", data=DEEP)
    assert 400 <= response.status_code < 500
    assert response.json["message"]


def _join_fields(client, settings, now, path, kind):
    page = client.get(path).get_data(as_text=True)
    data = hidden_fields(page)
    data["stamp"] = aged_stamp(settings.secret_key, now, kind=kind)
    data.update({"consent": "y", "first_name": "Ann", "altcha": altcha_token(settings, now)})
    return data


@pytest.mark.parametrize(("path", "kind"), [("/join", "join"), ("/embed/join", "embed")])
@pytest.mark.parametrize("field", ["email", "first_name", "website", "stamp"])
def test_a_file_in_a_text_field_is_a_400_not_a_500(client, settings, now, path, kind, field):
    data = _join_fields(client, settings, now, path, kind)
    if field != "email":
        data["email"] = "reader@example.com"
    data.pop(field, None)
    data[field] = (io.BytesIO(b"x" * 400), "evil.txt")
    response = client.post(
        path, data=data, headers={"Origin": "http://localhost"}, content_type="multipart/form-data"
    )
    assert response.status_code in (303, 400), response.status_code
    assert "Something went wrong" not in response.get_data(as_text=True)


def test_a_file_in_the_login_form_is_a_400(client):
    page = client.get("/admin/login").get_data(as_text=True)
    data = hidden_fields(page)
    data["email"] = (io.BytesIO(b"x" * 400), "evil.txt")
    data["password"] = "a long password"
    response = client.post("/admin/login", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
