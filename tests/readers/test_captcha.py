"""mailer.readers.captcha against a local siteverify server and real ALTCHA proof of work."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailer.core.models import CaptchaSolution
from mailer.readers import captcha
from mailer.readers.captcha import CaptchaResult, new_challenge, token_field, verify
from tests.fixtures.captcha import SECRET, SITE_KEY, SITEVERIFY_PATHS, solve_altcha
from tests.fixtures.http import Response


def check(services, token, *, action="subscribe", timeout=5.0, ip="203.0.113.9"):
    return verify(
        services.settings,
        services.http,
        services.db,
        token,
        ip,
        services.now(),
        action=action,
        timeout=timeout,
    )


# --- third-party providers ----------------------------------------------------------------------


def test_a_solved_token_passes_and_the_provider_gets_our_secret(provider_services, siteverify):
    token = siteverify.solve(score=0.8)
    result = check(provider_services, token)
    assert result.ok and result.detail == "ok" and not result.unavailable
    assert result.provider == siteverify.provider
    assert result.score == (0.8 if siteverify.provider == "recaptcha-v3" else None)
    (sent,) = siteverify.requests()
    form = sent.form()
    assert form["secret"] == SECRET and form["response"] == token
    assert form["remoteip"] == "203.0.113.9"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert ("sitekey" in form) == (siteverify.provider == "hcaptcha")
    if siteverify.provider == "hcaptcha":
        assert form["sitekey"] == SITE_KEY


def test_a_token_solved_on_an_embedding_site_passes(provider_services, siteverify):
    assert check(provider_services, siteverify.solve(hostname="news.example.com")).ok


def test_an_unknown_token_is_refused(provider_services, siteverify):
    result = check(provider_services, "forged-token")
    assert result == CaptchaResult(False, siteverify.provider, "invalid")


def test_a_token_used_twice_is_refused_the_second_time(provider_services, siteverify):
    token = siteverify.solve()
    assert check(provider_services, token).ok
    second = check(provider_services, token)
    assert not second.ok and not second.unavailable
    assert second.detail in ("replayed", "expired")


def test_a_missing_token_never_reaches_the_provider(provider_services, siteverify):
    assert check(provider_services, "  ").detail == "missing"
    assert siteverify.requests() == []


def test_a_token_solved_on_another_site_is_refused(provider_services, siteverify):
    result = check(provider_services, siteverify.solve(hostname="evil.example.net"))
    assert not result.ok and result.detail == "wrong-hostname"


def test_v3_scores_below_the_minimum_and_other_actions_are_refused(provider_services, siteverify):
    low = check(provider_services, siteverify.solve(score=0.3))
    other_action = check(provider_services, siteverify.solve(action="login"))
    if siteverify.provider == "recaptcha-v3":
        assert (low.ok, low.detail, low.score) == (False, "low-score", 0.3)
        assert (other_action.ok, other_action.detail) == (False, "wrong-action")
    elif siteverify.provider == "turnstile":
        assert low.ok  # Turnstile has no score
        assert (other_action.ok, other_action.detail) == (False, "wrong-action")
    else:
        assert low.ok and other_action.ok  # v2 and hCaptcha have neither score nor action


def test_a_slow_provider_fails_closed(provider_services, siteverify, provider_server, caplog):
    provider_server.expect("POST", siteverify.path, Response(200, {"success": True}, delay=1.0))
    with caplog.at_level(logging.WARNING, logger="mailer.readers.captcha"):
        result = check(provider_services, siteverify.solve(), timeout=0.2)
    assert result == CaptchaResult(False, siteverify.provider, "unavailable", unavailable=True)
    assert "unavailable" in caplog.text and "Timeout" in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        Response(500, "Internal Server Error"),
        Response(502, "<html>Bad gateway</html>"),
        Response(200, "<html>not json</html>"),
        Response(200, ["success"]),
        Response(200, {"success": "true"}),
        Response(200, {"error": "what"}),
        Response(429, {"success": False}),
    ],
    ids=["500", "502-html", "200-html", "json-list", "success-string", "no-success", "429"],
)
def test_a_broken_provider_fails_closed_with_a_log_line(
    provider_services, siteverify, provider_server, caplog, answer
):
    provider_server.expect("POST", siteverify.path, answer)
    with caplog.at_level(logging.WARNING, logger="mailer.readers.captcha"):
        result = check(provider_services, siteverify.solve())
    assert not result.ok and result.unavailable and result.detail == "unavailable"
    assert f"captcha {siteverify.provider} siteverify unavailable" in caplog.text


def test_a_v3_success_without_a_score_is_garbage(provider_services, siteverify, provider_server):
    if siteverify.provider != "recaptcha-v3":
        assert check(provider_services, siteverify.solve()).ok
        return
    shape = {"success": True, "hostname": "localhost", "action": "subscribe"}
    provider_server.expect("POST", siteverify.path, Response(200, shape))
    assert check(provider_services, siteverify.solve()).unavailable


def test_a_provider_that_cannot_be_reached_fails_closed(provider_services, third_party):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens
    settings = dataclasses.replace(
        provider_services.settings, captcha_verify_url=f"http://127.0.0.1:{port}/siteverify"
    )
    result = verify(
        settings, provider_services.http, provider_services.db, "tok", None, provider_services.now()
    )
    assert result.unavailable and result.detail == "unavailable"


def test_wrong_keys_fail_closed_as_misconfigured(provider_services, siteverify, caplog):
    settings = dataclasses.replace(provider_services.settings, captcha_secret="not-the-secret")
    with caplog.at_level(logging.WARNING, logger="mailer.readers.captcha"):
        result = verify(
            settings,
            provider_services.http,
            provider_services.db,
            siteverify.solve(),
            None,
            provider_services.now(),
        )
    assert result == CaptchaResult(False, siteverify.provider, "misconfigured", unavailable=True)
    assert "invalid-input-secret" in caplog.text


def test_each_provider_names_its_own_form_field(provider_services, third_party):
    expected = {
        "recaptcha-v2": "g-recaptcha-response",
        "recaptcha-v3": "g-recaptcha-response",
        "hcaptcha": "h-captcha-response",
        "turnstile": "cf-turnstile-response",
    }
    assert token_field(provider_services.settings) == expected[third_party]


def test_real_siteverify_addresses_are_used_without_an_override(provider_services, third_party):
    assert captcha.SITEVERIFY_URLS[third_party].startswith("https://")
    assert captcha.SITEVERIFY_URLS[third_party].endswith(SITEVERIFY_PATHS[third_party])


# --- ALTCHA -------------------------------------------------------------------------------------


def altcha_payload(services, now=None) -> str:
    return solve_altcha(new_challenge(services.settings, now or services.now()))


def test_altcha_is_the_default_and_posts_in_the_altcha_field(services):
    assert services.settings.captcha == "altcha"
    assert token_field(services.settings) == "altcha"


def test_a_solved_altcha_challenge_passes_once(services, db):
    payload = altcha_payload(services)
    assert check(services, payload) == CaptchaResult(True, "altcha", "ok")
    assert check(services, payload) == CaptchaResult(False, "altcha", "replayed")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CaptchaSolution)) == 1


def test_an_altcha_solution_expires_after_twenty_minutes(services):
    payload = altcha_payload(services, services.now() - timedelta(minutes=21))
    assert check(services, payload) == CaptchaResult(False, "altcha", "expired")


def test_a_challenge_states_its_expiry_in_its_signed_salt(services, now):
    challenge = new_challenge(services.settings, now)
    assert set(challenge) >= {"algorithm", "challenge", "salt", "signature", "maxNumber"}
    expires = int(challenge["salt"].split("expires=")[1].rstrip("&"))
    assert expires == int((now + timedelta(minutes=20)).timestamp())


def decode(payload: str) -> dict:
    return json.loads(base64.b64decode(payload))


def encode(data: dict) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "number": p["number"] + 1},
        lambda p: {**p, "salt": p["salt"].replace("expires=", "expires=9")},
        lambda p: {**p, "signature": "0" * 64},
        lambda p: {**p, "algorithm": "SHA-1"},
        lambda p: {**p, "number": str(p["number"])},
        lambda p: {k: v for k, v in p.items() if k != "signature"},
    ],
    ids=["number", "extended-expiry", "signature", "algorithm", "number-as-text", "no-signature"],
)
def test_a_tampered_altcha_payload_is_refused(services, tamper):
    forged = encode(tamper(decode(altcha_payload(services))))
    assert check(services, forged) == CaptchaResult(False, "altcha", "invalid")


def test_a_challenge_signed_with_another_key_is_refused(services):
    other = dataclasses.replace(services.settings, captcha_secret="someone-else's-key")
    payload = solve_altcha(new_challenge(other, services.now()))
    assert check(services, payload).detail == "invalid"


@pytest.mark.parametrize(
    "garbage",
    ["not base64!", base64.b64encode(b"\xff\xfe").decode(), encode([1, 2]), "A" * 9000, "e30="],
    ids=["not-base64", "not-utf8", "json-list", "huge", "empty-object"],
)
def test_garbage_altcha_payloads_are_refused(services, garbage):
    result = check(services, garbage)
    assert not result.ok and not result.unavailable and result.detail == "invalid"


def test_spent_solutions_are_pruned_once_expired(services, db):
    assert check(services, altcha_payload(services)).ok
    later = services.now() + timedelta(minutes=30)
    fresh = altcha_payload(services, later)
    result = verify(services.settings, services.http, db, fresh, None, later)
    assert result.ok
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CaptchaSolution)) == 1


def test_the_same_solution_posted_at_once_passes_exactly_once(services):
    payload = altcha_payload(services)
    results: list[CaptchaResult] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def attempt() -> None:
        start.wait()
        result = check(services, payload)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.detail for r in results) == ["ok"] + ["replayed"] * 5


def test_provider_none_passes_as_disabled(services):
    settings = dataclasses.replace(services.settings, captcha="none")
    result = verify(settings, services.http, services.db, "", None, services.now())
    assert result == CaptchaResult(True, "none", "disabled")


# --- passes: a solved CAPTCHA kept while the reader fixes other fields --------------------------


def test_a_pass_admits_one_signup_and_is_refused_after(services, db, now):
    settings = services.settings
    kept = captcha.issue_pass(settings, CaptchaResult(True, "altcha", "ok"), now)
    assert captcha.pass_is_live(settings, db, kept, now)
    assert captcha.redeem_pass(settings, db, kept, now) == CaptchaResult(True, "altcha", "ok-kept")
    assert not captcha.pass_is_live(settings, db, kept, now)
    assert captcha.redeem_pass(settings, db, kept, now).detail == "replayed"


def test_a_pass_from_another_provider_or_key_proves_nothing(services, db, now):
    settings = services.settings
    other_provider = captcha.issue_pass(
        dataclasses.replace(settings, captcha="turnstile"),
        CaptchaResult(True, "turnstile", "ok"),
        now,
    )
    other_key = captcha.issue_pass(
        dataclasses.replace(settings, secret_key="another-key-" * 4),
        CaptchaResult(True, "altcha", "ok"),
        now,
    )
    for token in (other_provider, other_key, "", "x" * 9000):
        assert not captcha.pass_is_live(settings, db, token, now)
        assert captcha.redeem_pass(settings, db, token, now).detail == "invalid"


def test_an_unspent_solution_is_spent_only_when_its_transaction_commits(services, db):
    now = services.now()
    payload = altcha_payload(services)
    result = verify(services.settings, services.http, db, payload, None, now, spend=False)
    assert result == CaptchaResult(True, "altcha", "ok") and result.unspent is not None
    with pytest.raises(RuntimeError), db.engine.begin() as conn:
        assert captcha.spend_in(conn, result, now)
        raise RuntimeError("the signup failed")  # rolled back: the solution is not used up
    assert check(services, payload) == CaptchaResult(True, "altcha", "ok")
    assert not captcha.spend_now(db, result, now)
