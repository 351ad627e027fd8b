"""Security behaviour seen over HTTP: headers, CSRF, sessions, redirects, rate limits, 413."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from challenges.extensions import limiter
from tests.factories import make_user

PASSWORD = "correct horse battery staple"


def _sign_in(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    url = "/account/sign-in" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password})


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_flags(client, app):
    make_user(email="flags@example.gov", roles=("vendor",))
    response = _sign_in(client, "flags@example.gov")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_csrf_required_when_enabled(client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user(email="csrf@example.gov", roles=("vendor",))
    response = _sign_in(client, "csrf@example.gov")
    assert response.status_code == 400
    assert b"CSRF" in response.data or b"Bad request" in response.data
    page = client.get("/account/sign-in")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data) or re.search(
        rb'name="csrf_token" value="([^"]+)"', page.data
    )
    assert token, "sign-in form carries a CSRF token"
    ok = client.post("/account/sign-in", data={"email": "csrf@example.gov", "password": PASSWORD,
                                                "csrf_token": token.group(1).decode()})
    assert ok.status_code == 302


def test_sign_in_starts_a_new_session(client, app):
    make_user(email="fixation@example.gov", roles=("vendor",))
    with client.session_transaction() as session:
        session["planted"] = "attacker-value"
    _sign_in(client, "fixation@example.gov")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(str(session["_user_id"]).split(":")[0])


def test_generic_message_for_unknown_and_wrong_password(client):
    make_user(email="known@example.gov", roles=("vendor",))
    wrong = _sign_in(client, "known@example.gov", "wrong password entirely")
    unknown = _sign_in(client, "nobody@example.gov", "wrong password entirely")
    assert wrong.status_code == unknown.status_code == 400
    assert b"The email or password is not right" in wrong.data
    assert b"The email or password is not right" in unknown.data


def test_unverified_account_is_asked_to_confirm(client, db):
    from challenges.mail import OutboxMessage

    make_user(email="new@example.gov", roles=("vendor",), verified=False)
    response = _sign_in(client, "new@example.gov")
    assert b"Confirm your email" in response.data
    assert db.session.query(OutboxMessage).filter_by(to_addr="new@example.gov").count() == 1
    assert client.get("/account/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example.com/", "//evil.example.com", "/\\evil.example.com",
                                    "javascript:alert(1)"])
def test_next_to_another_site_is_ignored(client, target):
    make_user(email="next@example.gov", roles=("vendor",))
    response = _sign_in(client, "next@example.gov", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/"


def test_next_within_the_site_is_followed(client):
    make_user(email="next2@example.gov", roles=("staff",))
    response = _sign_in(client, "next2@example.gov", next_url="/staff/challenges")
    assert response.headers["Location"] == "/staff/challenges"


def test_idle_session_is_signed_out(client, app, login_as):
    login_as("vendor")
    assert client.get("/account/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - app.config["SESSION_IDLE_MINUTES"] * 60 - 5
    response = client.get("/account/")
    assert response.status_code == 302 and "/account/sign-in" in response.headers["Location"]
    assert client.get("/account/").status_code == 302


def test_absolute_session_limit(client, app, login_as):
    login_as("vendor")
    with client.session_transaction() as session:
        session["started"] = int(time.time()) - app.config["SESSION_ABSOLUTE_HOURS"] * 3600 - 5
    response = client.get("/account/")
    assert response.status_code == 302 and "/account/sign-in" in response.headers["Location"]


def test_password_change_ends_other_sessions(app, db):
    make_user(email="two@example.gov", roles=("vendor",))
    first, second = app.test_client(), app.test_client()
    _sign_in(first, "two@example.gov")
    _sign_in(second, "two@example.gov")
    response = first.post("/account/", data={"pw-current_password": PASSWORD, "pw-password": "a brand new passphrase",
                                             "pw-confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert first.get("/account/").status_code == 200  # the session that changed it continues
    assert second.get("/account/").status_code == 302  # every other session is over


def test_sign_in_is_rate_limited(client, app):
    make_user(email="limit@example.gov", roles=("vendor",))
    app.config["SIGNIN_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        statuses = [_sign_in(client, "limit@example.gov", "wrong password entirely").status_code for _ in range(4)]
    finally:
        limiter.reset()
    assert statuses[:3] == [400, 400, 400]
    assert statuses[3] == 429


def test_oversized_request_gets_413(client, login_as):
    login_as("staff")
    response = client.post("/staff/challenges/new", data={"title": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert b"larger than this page accepts" in response.data


def test_error_pages_render_for_json_clients(client):
    response = client.get("/challenges/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_reset_link_uses_site_url_not_host_header(client, app, db):
    from challenges.mail import OutboxMessage

    make_user(email="reset@example.gov", roles=("vendor",))
    client.post("/account/forgot-password", data={"email": "reset@example.gov"},
                headers={"Host": "evil.example.com"})
    message = db.session.query(OutboxMessage).filter_by(to_addr="reset@example.gov").one()
    assert "evil.example.com" not in message.body_text
    assert app.config["SITE_URL"] + "/account/reset/" in message.body_text


def test_forgot_password_looks_the_same_for_unknown_email(client, db):
    from challenges.mail import OutboxMessage

    known = client.post("/account/forgot-password", data={"email": "nobody@example.gov"})
    assert known.status_code == 200
    assert b"If an account exists" in known.data
    assert db.session.query(OutboxMessage).count() == 0


def test_reset_password_flow_is_single_use(client, db):
    from challenges.mail import OutboxMessage

    make_user(email="once@example.gov", roles=("vendor",))
    client.post("/account/forgot-password", data={"email": "once@example.gov"})
    body = db.session.query(OutboxMessage).filter_by(to_addr="once@example.gov").one().body_text
    path = "/account/reset/" + re.search(r"/account/reset/(\S+)", body).group(1)
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and b"at least 12 characters" in short.data
    done = client.post(path, data={"password": "another fine passphrase", "confirm": "another fine passphrase"})
    assert done.status_code == 302
    again = client.get(path)
    assert again.status_code == 400 and b"no longer valid" in again.data
    assert _sign_in(client, "once@example.gov", "another fine passphrase").status_code == 302


def test_one_account_is_limited_however_many_addresses_guess(client, app):
    """Guessing one password from many addresses (each under the per-address limit) is stopped by the
    per-account limit, and it does not touch other accounts."""
    make_user(email="target@example.gov", roles=("vendor",))
    make_user(email="bystander@example.gov", roles=("vendor",))
    app.config["ACCOUNT_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        statuses = [client.post("/account/sign-in", data={"email": "Target@Example.gov", "password": "guess"},
                                environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code for n in range(4)]
        other = _sign_in(client, "bystander@example.gov")
    finally:
        limiter.reset()
    assert statuses == [400, 400, 400, 429] and other.status_code == 302


def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit(tmp_path, db):
    """With TRUSTED_PROXIES = 1 the limit counts the visitor's address from X-Forwarded-For, so one
    person's failures do not lock everyone behind the proxy out; with 0 the header is ignored."""
    from challenges import create_app
    from tests.conftest import make_config

    url = db.engine.url.render_as_string(hide_password=False)
    for hops, expected in ((1, 302), (0, 429)):
        config = make_config(url, tmp_path)
        config.TRUSTED_PROXIES, config.SIGNIN_RATE_LIMIT = hops, "2 per minute"
        proxied = create_app(config)
        with proxied.app_context():
            limiter.reset()
            client = proxied.test_client()
            for _ in range(2):
                client.post("/account/sign-in", data={"email": "noisy@example.gov", "password": "x"},
                            headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
            make_user(email=f"calm{hops}@example.gov", roles=("vendor",))
            calm = client.post("/account/sign-in", data={"email": f"calm{hops}@example.gov", "password": PASSWORD},
                               headers={"X-Forwarded-For": "198.51.100.9"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
            limiter.reset()
        assert calm.status_code == expected, hops


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, db):
    make_user(email="leaver@example.gov", roles=("vendor",))
    browser = app.test_client()
    _sign_in(browser, "leaver@example.gov")
    stolen = browser.get_cookie("session").value
    browser.post("/account/sign-out")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/account/").status_code == 302  # sent to sign in: the copy is worthless
    assert _sign_in(app.test_client(), "leaver@example.gov").status_code == 302  # signing in again works


def test_registering_an_existing_address_looks_like_a_new_account(client, db):
    from challenges.mail import OutboxMessage

    make_user(email="known@example.gov", roles=("vendor",))
    fresh = client.post("/account/register", data={"email": "unknown@example.gov", "password": PASSWORD,
                                                   "confirm": PASSWORD, "name": ""})
    known = client.post("/account/register", data={"email": "Known@example.gov", "password": PASSWORD,
                                                   "confirm": PASSWORD, "name": ""})
    assert fresh.status_code == known.status_code == 200
    assert "Check your email" in known.text and "already exists" not in known.text
    again = client.post("/account/register", data={"email": "known@example.gov", "password": PASSWORD,
                                                   "confirm": PASSWORD, "name": ""})
    assert again.status_code == 200
    told = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "account_exists")).scalars().all()
    assert [m.to_addr for m in told] == ["known@example.gov"]  # once an hour, however often it is tried


def test_resend_and_reset_do_not_flood_an_inbox(client, db):
    from challenges.mail import OutboxMessage

    make_user(email="quiet@example.gov", roles=("vendor",))
    unconfirmed = make_user(email="new@example.gov", roles=("vendor",), verified=False)
    for _ in range(5):
        client.post("/account/forgot-password", data={"email": "quiet@example.gov"})
        client.post("/account/verify/resend", data={"email": unconfirmed.email})
    templates = db.session.execute(select(OutboxMessage.template)).scalars().all()
    assert templates.count("reset_password") == 1 and templates.count("verify_email") == 1


def test_guessing_the_current_password_is_limited(client, app, login_as):
    login_as("vendor")
    app.config["ACCOUNT_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        statuses = [client.post("/account/", data={"pw-current_password": "guess", "pw-password": "a new passphrase!",
                                                   "pw-confirm": "a new passphrase!"}).status_code for _ in range(4)]
    finally:
        limiter.reset()
    assert statuses == [400, 400, 400, 429]
