"""A client generated from the live OpenAPI document, as an integrator would make one, used for real.

``openapi-python-client`` reads the document the running app serves and writes a package; the test
imports it and lists, pages and creates candidates with it against the app served on loopback. Its
method names come from the operations' ``operationId`` (``list_candidates``), and a value that may be
null has a type, so the generator writes ``str | None`` rather than a guess.
"""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys

import pytest
import time_machine

from .api_support import manager_with_token
from .factories import PositionFactory
from .helpers import served

#: The clock of these tests (ticking, for the served app's thread and the token alike).
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def live_api(app):
    with served(app) as url:
        yield url


@pytest.fixture
def generated(client, tmp_path, monkeypatch):
    """The package generated from the app's own document."""
    document = tmp_path / "openapi.json"
    document.write_bytes(client.get("/api/v1/openapi.json").get_data())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("feedback_sla_client")
    for name in [name for name in sys.modules if name.startswith("feedback_sla_client")]:
        del sys.modules[name]


def test_every_operation_is_named_and_every_nullable_value_typed(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operations = [
        operation
        for path in document["paths"].values()
        for method, operation in path.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    names = [operation.get("operationId") for operation in operations]
    assert None not in names and len(set(names)) == len(names)
    assert {
        "list_candidates",
        "search_candidates",
        "create_candidate",
        "get_candidate",
        "list_waits",
        "log_contact",
    } <= set(names)

    def untyped_nulls(schema, where):
        if isinstance(schema, dict):
            if schema.get("enum") and None in schema["enum"] and not schema.get("type"):
                yield where
            if "default" in schema and schema["default"] is None:
                yield where
            if schema.get("nullable") and "type" not in schema and "$ref" not in schema:
                yield where
            for key, value in schema.items():
                yield from untyped_nulls(value, f"{where}.{key}")
        elif isinstance(schema, list):
            for n, value in enumerate(schema):
                yield from untyped_nulls(value, f"{where}[{n}]")

    assert list(untyped_nulls(document, "document")) == []


def test_a_generated_client_lists_pages_and_creates_candidates(session, live_api, generated):
    manager, secret = manager_with_token(session, email="maria@example.com")
    position = PositionFactory(manager=manager, title="Backend Engineer")
    session.commit()
    from feedback_sla_client.api.api import create_candidate, get_candidate, list_candidates
    from feedback_sla_client.models import NewCandidate

    api = generated.AuthenticatedClient(base_url=live_api, token=secret)
    applied = NOW - dt.timedelta(days=1)
    made = []
    for name, address in (("Zoë Quinn", "zoe@example.org"), ("José Ñúñez", "jose@example.org")):
        body = NewCandidate(position_id=position.id, name=name, email=address, applied_at=applied)
        created = create_candidate.sync(client=api, body=body)
        assert created.name == name and created.email == address
        made.append(created.id)

    first = list_candidates.sync(client=api, limit=1)
    assert [c.id for c in first.items] == made[:1] and isinstance(first.next_cursor, str)
    second = list_candidates.sync(client=api, limit=1, cursor=first.next_cursor)
    assert [c.id for c in second.items] == made[1:] and second.next_cursor is None
    assert get_candidate.sync(client=api, candidate_id=made[1]).name == "José Ñúñez"

    refused = create_candidate.sync_detailed(
        client=api, body=NewCandidate(position_id=position.id, name="No Address", email="not-an-email")
    )
    assert refused.status_code == 422
    assert b"email" in refused.content
