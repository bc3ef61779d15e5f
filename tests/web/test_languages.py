"""Readers' pages and mail in German: chosen at Join from the page or the browser, kept for the
reader, mailed through the real SMTP transport; the desk stays English."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.core.models import Subscriber
from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn
from mailer.readers import links, privacy
from mailer.services import system_clock
from tests.fixtures.mailing import add_subscribers
from tests.fixtures.readers import link_in, path_of


@pytest.fixture
def settings_overrides(smtp_server):
    return {"captcha": "altcha", "transport": smtp_server.dsn(), "send_rate": 1000.0}


def test_the_join_page_follows_the_browser_and_the_switcher(client):
    german = client.get("/join", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    page = german.get_data(as_text=True)
    assert '<html lang="de">' in page
    assert "E-Mail-Adresse" in page and "Ja, schicken Sie mir" in page
    assert '<input type="hidden" name="lang" value="de">' in page
    english = client.get("/join?lang=en", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Email address" in english
    unknown = client.get("/join", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in unknown  # the default for a language we do not offer
    desk = client.get("/admin/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in desk


def test_mistakes_are_told_in_german(join_post):
    answer = join_post(email="nobody", consent=None, lang="de")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Bitte korrigieren Sie die 2 unten markierten Felder." in page
    assert "Setzen Sie das Häkchen" in page


def test_a_german_signup_gets_german_mail_and_pages(join_post, client, db, settings, smtp_server):
    assert join_post(email="leser@example.com", first_name="Jürgen", lang="de").status_code == 200
    with db.session() as session:
        reader = session.scalar(select(Subscriber).where(Subscriber.email == "leser@example.com"))
    assert reader.language == "de"
    drain_outbox(db, settings, lambda: transport_from_dsn(settings.transport), system_clock)
    (mail,) = smtp_server.wait_for(1)
    assert str(mail.message["Subject"]).startswith("Bitte bestätigen:")
    text = mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.message.get_body(("html",)).get_content()
    assert text.startswith("Hallo,\n\nJemand, wahrscheinlich Sie,") and "\n\nDer Link gilt" in text
    assert '<html lang="de">' in html and "Abonnement bestätigen" in html
    confirm = path_of(link_in(text, "/confirm/")) + "?lang=de"
    assert confirm in text
    page = client.get(confirm).get_data(as_text=True)  # no Accept-Language: the link says it
    assert '<html lang="de">' in page and "Bestätigen Sie Ihr Abonnement" in page


def test_preferences_speak_the_readers_language_and_change_it(client, db, settings, now):
    add_subscribers(db, now, 1)
    with db.session() as session:
        reader = session.scalar(select(Subscriber))
        reader.language = "de"
        sid, nonce = reader.id, reader.token_nonce
    prefs = path_of(links.preferences_url(settings, sid, nonce, now))
    page = client.get(prefs).get_data(as_text=True)
    assert '<html lang="de">' in page and "Ihre Einstellungen" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    changed = client.post(prefs, data={"csrf_token": token, "action": "language", "language": "en"})
    assert changed.status_code == 200
    assert "Your language is saved." in changed.get_data(as_text=True)
    with db.session() as session:
        assert session.get(Subscriber, sid).language == "en"
    assert privacy.export_data(db, sid)["subscriber"]["language"] == "en"  # the reader's data
    refused = client.post(prefs, data={"csrf_token": token, "action": "language", "language": "xx"})
    assert refused.status_code == 400


def test_error_pages_and_the_address_checkers_reasons_in_german(client, join_post):
    missing = client.get("/no-such-page", headers={"Accept-Language": "de"})
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404
    assert "Nicht gefunden" in page and "Unter dieser Adresse gibt es nichts." in page
    api = client.get("/api/no-such-thing", headers={"Accept-Language": "de"})
    assert api.get_json()["error"] == "Not Found"  # machines read the English name
    wrong = join_post(email="leser@example", lang="de").get_data(as_text=True)
    assert "Das ist keine gültige E-Mail-Adresse." in wrong


def test_the_api_tells_a_wrong_newsletter_choice_in_the_page_language(app):
    client = app.test_client(use_cookies=False)
    body = {"email": "api@example.com", "consent": True, "captcha": "x", "language": "de"}
    unknown = client.post("/api/subscribe", json={**body, "newsletters": ["<nope>"]})
    assert unknown.status_code == 400
    assert unknown.json["errors"]["newsletters"] == ["Es gibt keinen Newsletter namens '<nope>'."]
    too_many = client.post("/api/subscribe", json={**body, "newsletters": ["a"] * 33})
    assert too_many.json["errors"]["newsletters"] == [
        'Nennen Sie die Newsletter als Liste von höchstens 32 Kürzeln, etwa ["weekly"].'
    ]
    english = client.post("/api/subscribe", json={**body, "language": "en", "newsletters": []})
    assert english.json["errors"]["newsletters"] == ["Choose at least one newsletter."]
