"""Sessions, CSRF, throttling and headers: what RELIABILITY 1-6, 9, 12 and 14 ask of the web app."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import time_machine

from feedback_sla import create_app
from feedback_sla.accounts import service as auth_service
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db

from .factories import PASSWORD, UserFactory
from .helpers import login as log_in


@pytest.fixture
def limits_on(app_config):
    app_config["RATELIMIT_ENABLED"] = True
    app_config["RATELIMIT_STORAGE_URI"] = "memory://"
    return app_config


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_login_and_logout(client, session):
    user = UserFactory()
    session.commit()
    assert log_in(client, user).status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_one_message(client, session):
    user = UserFactory()
    session.commit()
    response = log_in(client, user, password="not the password")
    assert response.status_code == 401
    assert "Wrong email or password" in response.get_data(as_text=True)
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": "whatever1"})
    assert "Wrong email or password" in unknown.get_data(as_text=True)


@pytest.mark.usefixtures("csrf_on")
def test_post_without_csrf_token_is_refused(client, session):
    user = UserFactory()
    session.commit()
    refused = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 400
    assert log_in(client, user).status_code == 302
    # Logged in, a POST without the token still changes nothing.
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_a_replayed_cookie_after_logout_is_refused(client, session):
    user = UserFactory()
    session.commit()
    log_in(client, user)
    copied = client.get_cookie("feedback_sla_session").value
    client.post("/logout")
    client.set_cookie("feedback_sla_session", copied)
    response = client.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_a_disabled_users_open_session_ends_at_once(app, client, session):
    user = UserFactory()
    session.commit()
    log_in(client, user)
    assert client.get("/").status_code == 200
    auth_service.disable(user)
    session.commit()
    assert client.get("/").status_code == 302
    assert log_in(client, user).status_code == 401


def test_changing_the_password_ends_other_sessions(app, session):
    user = UserFactory()
    session.commit()
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, user)
    log_in(phone, user)
    response = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new long passphrase",
            "confirm": "a new long passphrase",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302


def test_changing_the_password_needs_the_current_one(client, session):
    user = UserFactory()
    session.commit()
    log_in(client, user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "wrong one!",
            "new_password": "a new long passphrase",
            "confirm": "a new long passphrase",
        },
    )
    assert "the current password is wrong" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


@pytest.mark.usefixtures("limits_on")
def test_the_password_page_throttles_wrong_current_passwords_like_login(client, session):
    user = UserFactory()
    session.commit()
    log_in(client, user)

    def change(current: str):
        new = "a new long passphrase"
        return client.post(
            "/account/password", data={"current_password": current, "new_password": new, "confirm": new}
        )

    for _ in range(10):
        assert change("wrong guess!").status_code == 401
    assert change("wrong guess!").status_code == 429
    assert change(PASSWORD).status_code == 429  # the account is throttled, not the guess
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_a_login_hashes_a_password_whether_or_not_the_account_exists(client, session, monkeypatch):
    # The time a refusal takes is the time of one password hash, for every kind of account.
    from feedback_sla.accounts import login

    hashed = []
    real = login.check_password_hash
    monkeypatch.setattr(login, "check_password_hash", lambda *args: hashed.append(1) or real(*args))
    known = UserFactory()
    disabled = UserFactory(active=False)
    session.commit()
    for email in (known.email, disabled.email, "nobody@example.com"):
        hashed.clear()
        response = client.post("/login", data={"email": email, "password": "not the password"})
        assert response.status_code == 401 and "Wrong email or password" in response.get_data(as_text=True)
        assert hashed == [1], email


@pytest.mark.usefixtures("limits_on")
def test_the_eleventh_wrong_password_for_one_account_is_throttled(client, session):
    user = UserFactory()
    session.commit()
    for _ in range(10):
        assert log_in(client, user, password="wrong password").status_code == 401
    assert log_in(client, user, password="wrong password").status_code == 429
    # Even the right password waits now: the account is throttled, not the guess.
    assert log_in(client, user).status_code == 429
    other = UserFactory()
    session.commit()
    assert log_in(client, other).status_code == 302


@pytest.mark.usefixtures("limits_on")
def test_logins_are_throttled_per_address(make_app, session):
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="5 per 15 minutes")
    client = app.test_client()
    with app.app_context():
        for n in range(5):
            response = client.post("/login", data={"email": f"x{n}@example.com", "password": "guess123"})
            assert response.status_code == 401
        response = client.post("/login", data={"email": "x9@example.com", "password": "guess123"})
        assert response.status_code == 429


@pytest.mark.parametrize("target", ["//evil.example.com/", "https://evil.example.com/", "/\\evil.com"])
def test_next_must_be_local(client, session, target):
    user = UserFactory()
    session.commit()
    response = log_in(client, user, next=target)
    assert response.location == "/"


def test_next_keeps_a_local_path(client, session):
    user = UserFactory()
    session.commit()
    assert log_in(client, user, next="/?state=overdue").location == "/?state=overdue"


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "Strict-Transport-Security" not in response.headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_flags_in_production(make_app, session):
    app = make_app(TESTING=False)
    with app.app_context():
        user = UserFactory()
        db.session.commit()
        client = app.test_client()
        response = log_in(client, user)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_production_refuses_to_start_without_a_secret_key(app_config, make_app):
    with pytest.raises(ConfigurationError, match="FEEDBACK_SLA_SECRET_KEY"):
        create_app({**app_config, "TESTING": False, "SECRET_KEY": None})
    assert make_app(TESTING=False, SECRET_KEY=None, DEMO=True).config["SECRET_KEY"]


def test_operator_commands_run_without_a_key_but_pages_are_refused(make_app):
    app = make_app(TESTING=False, SECRET_KEY=None, COMMAND_LINE=True)
    with app.app_context():
        assert app.test_client().get("/login").status_code == 503


def test_error_pages_show_no_stack_trace(app):
    def explode():
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", "explode", explode)
    response = app.test_client().get("/explode")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internals" not in body
    assert "Traceback" not in body


def test_idle_sessions_expire(client, session):
    user = UserFactory()
    session.commit()
    start = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        log_in(client, user)
        assert client.get("/").status_code == 200
        traveller.shift(dt.timedelta(hours=3))
        assert client.get("/").status_code == 302


def test_sessions_end_after_the_absolute_lifetime(client, session):
    user = UserFactory()
    session.commit()
    start = dt.datetime(2026, 11, 25, 7, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        log_in(client, user)
        for _ in range(13):
            traveller.shift(dt.timedelta(hours=1))
            last = client.get("/")
        assert last.status_code == 302


REDIS_URL = os.environ.get("FEEDBACK_SLA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_login_throttling_is_shared_by_every_worker_through_redis(make_app, session):
    """Two app processes (gunicorn workers) count failed logins together when the storage is Redis."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex}"
    workers = [
        make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
        for _ in range(2)
    ]
    user = UserFactory()
    session.commit()
    clients = [worker.test_client() for worker in workers]
    for attempt in range(10):
        response = log_in(clients[attempt % 2], user, password="wrong password")
        assert response.status_code == 401
    assert log_in(clients[0], user, password="wrong password").status_code == 429
    assert log_in(clients[1], user).status_code == 429
