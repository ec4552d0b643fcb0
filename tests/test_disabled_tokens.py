"""Disabling a user revokes their API tokens for good: enabling them again brings none back
(RELIABILITY 41)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from feedback_sla.accounts import tokens
from feedback_sla.accounts.models import ApiToken, Role, User

from .api_support import bearer, manager_with_token
from .factories import UserFactory
from .helpers import logged_in

#: The clock of these tests, ticking (requests, tokens and the served app read it alike).
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


def test_a_disabled_users_tokens_stay_revoked_when_they_are_enabled_again(client, session):
    admin = UserFactory(role=Role.ADMIN)
    manager, secret = manager_with_token(session)
    _, other_secret = manager_with_token(session)
    session.commit()
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 200

    logged_in(client, admin)
    assert client.post(f"/admin/users/{manager.id}/disable").status_code == 302
    session.expire_all()
    (token,) = tokens.tokens_of(session, manager)
    assert token.revoked_at is not None  # stored as revoked, not only refused while disabled

    assert client.post(f"/admin/users/{manager.id}/enable").status_code == 302
    session.expire_all()
    assert session.get(User, manager.id).active is True
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 401
    assert session.get(ApiToken, token.id).revoked_at is not None
    # Nobody else's token was touched.
    assert client.get("/api/v1/positions", headers=bearer(other_secret)).status_code == 200


def test_a_token_left_live_on_a_disabled_account_is_revoked_when_it_is_enabled(client, session):
    """An account disabled before disabling revoked tokens: its token does not come back either."""
    admin = UserFactory(role=Role.ADMIN)
    manager, secret = manager_with_token(session)
    manager.active = False
    session.commit()

    logged_in(client, admin)
    assert client.post(f"/admin/users/{manager.id}/enable").status_code == 302
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 401
    # A token made after the account is enabled again works.
    new = tokens.create_token(session, session.get(User, manager.id), "new", NOW)
    session.commit()
    assert client.get("/api/v1/positions", headers=bearer(new.secret)).status_code == 200
