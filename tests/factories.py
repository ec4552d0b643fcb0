"""Test data factories bound to the app's session."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from feedback_sla.database import db
from feedback_sla.models import Candidate, Position, Role, User
from feedback_sla.text import search_key

PASSWORD = "correct horse battery"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"manager{n}@example.com")
    name = factory.Sequence(lambda n: f"Manager {n}")
    role = Role.MANAGER
    time_zone = "UTC"
    digest_hour = 8
    active = True
    session_version = 1
    password_hash = factory.LazyFunction(lambda: _hash(PASSWORD))


_HASHES: dict[str, str] = {}


#: scrypt with a small work factor (N = 1,024 rather than werkzeug's 32,768). Checking the shared
#: password at every test's login then takes milliseconds, not a tenth of a second each, across
#: some thousand logins a run; the login code is the same, and the accounts the app itself creates
#: (``users create``, the demo, My settings) keep the app's own work factor.
TEST_HASH_METHOD = "scrypt:1024:8:1"


def _hash(password: str) -> str:
    """The shared test password's hash, made once per run."""
    if password not in _HASHES:
        from werkzeug.security import generate_password_hash

        _HASHES[password] = generate_password_hash(password, method=TEST_HASH_METHOD)
    return _HASHES[password]


class PositionFactory(BaseFactory):
    class Meta:
        model = Position

    title = factory.Sequence(lambda n: f"Position {n}")
    manager = factory.SubFactory(UserFactory)
    time_zone = factory.LazyAttribute(lambda o: o.manager.time_zone)
    policy_overrides = factory.LazyFunction(dict)
    is_open = True


class CandidateFactory(BaseFactory):
    """A bare candidate row; use ``waits.service.add_candidate`` to open its wait too."""

    class Meta:
        model = Candidate

    name = factory.Sequence(lambda n: f"Candidate {n}")
    email = factory.Sequence(lambda n: f"candidate{n}@example.com")
    position = factory.SubFactory(PositionFactory)
    stage = "applied"
    search_key = factory.LazyAttribute(lambda c: search_key(c.name, c.email))
