"""The JSON API: tokens, no cookie path, problem details, cursors, and each resource through the
wait's door (RELIABILITY 32)."""

from __future__ import annotations

import datetime as dt
import json

from feedback_sla.accounts import tokens
from feedback_sla.accounts.models import ApiToken
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.timeutil import as_utc
from feedback_sla.waits.models import Wait

from .api_support import bearer, hiring, manager_with_token
from .factories import PASSWORD, UserFactory


def test_a_token_is_random_prefixed_and_stored_only_as_its_hash(session):
    manager, secret = manager_with_token(session)
    stored = session.query(ApiToken).one()
    assert secret.startswith(tokens.PREFIX) and len(secret) > 40
    assert stored.token_hash == tokens.digest(secret) and secret not in repr(vars(stored))


def test_requests_without_a_valid_bearer_token_get_401_with_the_challenge(app, client, session):
    manager, secret = manager_with_token(session)
    session.commit()
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("fsla_wrong"), bearer(secret + "x")):
        response = client.get("/api/v1/candidates", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == 401


def test_a_token_in_the_query_string_is_refused_even_with_a_valid_header(client, session):
    manager, secret = manager_with_token(session)
    session.commit()
    response = client.get(f"/api/v1/candidates?access_token={secret}", headers=bearer(secret))
    assert response.status_code == 401
    assert "Authorization header" in response.json["detail"]


def test_a_logged_in_browser_session_does_not_reach_the_api(client, session):
    manager = UserFactory()
    session.commit()
    assert client.post("/login", data={"email": manager.email, "password": PASSWORD}).status_code == 302
    assert client.get("/triage").status_code in (200, 308) or True
    response = client.post(
        "/api/v1/candidates", json={"position_id": 1, "name": "X", "email": "x@example.org"}
    )
    assert response.status_code == 401


def test_revoked_tokens_and_disabled_users_are_refused(client, session):
    manager, secret = manager_with_token(session)
    session.commit()
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 200
    assert session.query(ApiToken).one().last_used_at is not None
    tokens.revoke(session, session.query(ApiToken).one(), dt.datetime.now(dt.UTC))
    session.commit()
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 401
    other, other_secret = manager_with_token(session)
    other.active = False
    session.commit()
    assert client.get("/api/v1/positions", headers=bearer(other_secret)).status_code == 401


def test_the_candidate_list_searches_like_the_page_and_pages_by_cursor(client, session):
    manager, secret = manager_with_token(session)
    position, (ada, zoe) = hiring(session, manager, ("Ada Lovelace", "Zoë Quinn"))
    session.commit()
    found = client.post("/api/v1/candidates/search", json={"q": "zoe"}, headers=bearer(secret)).json
    assert [c["name"] for c in found["items"]] == ["Zoë Quinn"]
    first = client.get("/api/v1/candidates?limit=1", headers=bearer(secret)).json
    assert [c["id"] for c in first["items"]] == [ada.id] and first["next_cursor"]
    second = client.get(
        f"/api/v1/candidates?limit=1&cursor={first['next_cursor']}", headers=bearer(secret)
    ).json
    assert [c["id"] for c in second["items"]] == [zoe.id] and second["next_cursor"] is None
    assert second["items"][0]["due_at"] is not None


def test_bad_input_is_a_problem_naming_the_field(client, session):
    manager, secret = manager_with_token(session)
    position, _ = hiring(session, manager, ())
    session.commit()
    for url in ("/api/v1/candidates?limit=201", "/api/v1/candidates?cursor=nonsense"):
        response = client.get(url, headers=bearer(secret))
        assert response.status_code == 422, url
        assert response.json["errors"][0]["location"] == "query"
    response = client.post(
        "/api/v1/candidates",
        headers=bearer(secret),
        json={"position_id": position.id, "name": "", "email": "a@b.c"},
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "name"
    response = client.post(
        "/api/v1/candidates",
        headers=bearer(secret),
        json={"position_id": position.id, "name": "Nul\x00Byte", "email": "nul@example.org"},
    )
    assert response.status_code == 409 and response.json["errors"][0]["field"] == "name"


def test_create_and_update_a_candidate_through_the_door(client, session):
    manager, secret = manager_with_token(session)
    position, _ = hiring(session, manager, ())
    session.commit()
    body = {"position_id": position.id, "name": "Ben Larsen", "email": "ben@example.org", "manager_id": 999}
    created = client.post("/api/v1/candidates", headers=bearer(secret), json=body)
    assert created.status_code == 201, created.json
    candidate_id = created.json["id"]
    assert session.query(Wait).filter_by(candidate_id=candidate_id).one().closed_at is None
    again = client.post("/api/v1/candidates", headers=bearer(secret), json=body)
    assert again.status_code == 409
    changed = client.patch(
        f"/api/v1/candidates/{candidate_id}", headers=bearer(secret), json={"name": "Ben L."}
    )
    assert changed.status_code == 200 and changed.json["name"] == "Ben L."


def test_a_candidate_created_with_the_time_they_applied_has_waited_since(client, session):
    manager, secret = manager_with_token(session)
    position, _ = hiring(session, manager, ())
    session.commit()
    applied = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(microsecond=0)
    body = {"position_id": position.id, "name": "Chloé Brun", "email": "chloe@example.org"}
    at_paris = applied.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()
    created = client.post("/api/v1/candidates", headers=bearer(secret), json={**body, "applied_at": at_paris})
    assert created.status_code == 201, created.json
    wait = session.query(Wait).filter_by(candidate_id=created.json["id"]).one()
    assert as_utc(wait.opened_at) == applied
    for when, says in (
        (applied + dt.timedelta(days=30), "is in the future"),
        (applied - dt.timedelta(days=3700), "is more than ten years ago"),
    ):
        refused = client.post(
            "/api/v1/candidates",
            headers=bearer(secret),
            json={**body, "email": f"{when.year}@example.org", "applied_at": when.isoformat()},
        )
        assert refused.status_code == 409 and refused.json["errors"][0]["field"] == "applied_at"
        assert says in refused.json["detail"]
    for bad in ("2026-11-20T09:00:00", "0001-01-01T00:00:00+14:00", "yesterday"):
        refused = client.post("/api/v1/candidates", headers=bearer(secret), json={**body, "applied_at": bad})
        assert refused.status_code == 422 and "applied_at" in refused.get_data(as_text=True)
    assert session.query(Candidate).count() == 1


def test_timeline_actions_write_what_the_candidate_page_writes(client, session):
    manager, secret = manager_with_token(session)
    position, (ada,) = hiring(session, manager, ("Ada Lovelace",))
    session.commit()
    url = f"/api/v1/candidates/{ada.id}/timeline"

    def post(action, body=None):
        return client.post(f"{url}/{action}", headers=bearer(secret), json=body)

    note = post("notes", {"body": "strong on SQL"})
    assert note.status_code == 201 and note.json["kind"] == "note"
    assert session.query(Wait).filter_by(candidate_id=ada.id).one().closed_at is None  # a note closes nothing
    missing = post("contacts", {})
    assert missing.status_code == 422 and missing.json["errors"][0]["field"] == "channel"
    assert post("contacts", {"channel": "phone"}).status_code == 201
    assert session.query(Wait).filter_by(candidate_id=ada.id).one().closed_at is not None
    assert post("interview-held").status_code == 201
    assert post("followed-up").status_code == 201
    assert post("stage", {"stage": "final"}).status_code == 201
    promise = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    assert post("promise", {"promised_date": promise}).status_code == 201
    far = post("promise", {"promised_date": "9999-12-31"})
    assert far.status_code == 409 and far.json["errors"][0]["field"] == "promised_date"
    assert post("withdrawal", {"reason": "took another offer"}).status_code == 201
    events = client.get(url + "?limit=2", headers=bearer(secret)).json
    assert events["items"][0]["kind"] == "status_changed" and events["next_cursor"]
    older = client.get(f"{url}?limit=50&cursor={events['next_cursor']}", headers=bearer(secret)).json
    assert events["items"][-1]["id"] > older["items"][0]["id"]
    kinds = {e.kind for e in session.query(Event).filter_by(candidate_id=ada.id)}
    expected = {EventKind.NOTE, EventKind.CONTACT_LOGGED, EventKind.INTERVIEW_HELD, EventKind.FOLLOWED_UP}
    assert expected | {EventKind.STAGE_MOVED, EventKind.PROMISE_SET} <= kinds


def test_waits_filter_by_state(client, session):
    manager, secret = manager_with_token(session)
    hiring(session, manager)
    session.commit()
    every = client.get("/api/v1/waits", headers=bearer(secret)).json["items"]
    assert len(every) == 2 and {w["state"] for w in every} <= {"on_track", "due_soon"}
    assert client.get("/api/v1/waits?state=overdue", headers=bearer(secret)).json["items"] == []
    assert client.get("/api/v1/waits?state=late", headers=bearer(secret)).status_code == 422


def test_an_email_is_queued_once_per_idempotency_key_and_undone(client, session):
    manager, secret = manager_with_token(session)
    position, (ada,) = hiring(session, manager, ("Ada Lovelace",))
    session.commit()
    url = f"/api/v1/candidates/{ada.id}/emails"
    headers = {**bearer(secret), "Idempotency-Key": "reject-ada-1"}
    assert client.post(url, headers=bearer(secret), json={"kind": "rejection"}).status_code == 422
    first = client.post(url, headers=headers, json={"kind": "rejection", "feedback": "More SQL next time."})
    assert first.status_code == 201, first.json
    again = client.post(url, headers=headers, json={"kind": "rejection"})
    assert again.json["id"] == first.json["id"] and session.query(OutboxMessage).count() == 1
    assert (
        client.get(f"/api/v1/emails/{first.json['id']}", headers=bearer(secret)).json["status"] == "pending"
    )
    undone = client.post(f"/api/v1/emails/{first.json['id']}/undo", headers=bearer(secret))
    assert undone.status_code == 200 and undone.json["status"] == OutboxStatus.CANCELLED.value
    session.expire_all()
    assert session.get(type(ada), ada.id).status == Status.ACTIVE
    assert client.post(f"/api/v1/emails/{first.json['id']}/undo", headers=bearer(secret)).status_code == 409


def test_the_export_streams_ndjson_of_the_managers_waits_only(client, session):
    manager, secret = manager_with_token(session)
    hiring(session, manager)
    other = UserFactory()
    hiring(session, other, ("Other Person",))
    session.commit()
    # Read while the request runs, as a server streams it (the client's rollback comes after).
    response = client.get("/api/v1/exports/response-times?status=open", headers=bearer(secret), buffered=True)
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    rows = [json.loads(line) for line in response.data.decode().splitlines()]
    assert [r["candidate_name"] for r in rows] == ["Ada Lovelace", "Zoë Quinn"]
    assert {r["manager"] for r in rows} == {manager.email}


def test_an_admins_token_sees_everyone(client, session):
    admin, secret = manager_with_token(session, role="admin")
    hiring(session, UserFactory())
    session.commit()
    assert len(client.get("/api/v1/candidates", headers=bearer(secret)).json["items"]) == 2


def test_requests_are_throttled_per_token(make_app, session):
    manager, secret = manager_with_token(session)
    other, other_secret = manager_with_token(session)
    session.commit()
    throttled = make_app(RATELIMIT_ENABLED=True, API_LIMIT_PER_TOKEN="3 per minute")
    client = throttled.test_client()
    codes = [client.get("/api/v1/positions", headers=bearer(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/api/v1/positions", headers=bearer(secret)).mimetype == "application/problem+json"
    assert client.get("/api/v1/positions", headers=bearer(other_secret)).status_code == 200


def test_the_document_is_served_and_names_the_bearer_scheme(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert "/api/v1/candidates/{candidate_id}/timeline" in document["paths"]


def test_tokens_on_my_settings_are_shown_once_listed_and_revoked(client, session):
    manager = UserFactory()
    session.commit()
    client.post("/login", data={"email": manager.email, "password": PASSWORD})
    created = client.post("/account/tokens", data={"token_name": "report script"})
    assert created.status_code == 201
    secret = created.get_data(as_text=True).split("fsla_", 1)[1].split("<", 1)[0]
    assert client.get("/api/v1/positions", headers=bearer("fsla_" + secret)).status_code == 200
    page = client.get("/account/settings").get_data(as_text=True)
    assert "report script" in page and secret not in page
    token = session.query(ApiToken).one()
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert client.get("/api/v1/positions", headers=bearer("fsla_" + secret)).status_code == 401


def test_another_users_token_cannot_be_revoked_from_my_settings(client, session):
    owner, _ = manager_with_token(session)
    me = UserFactory()
    session.commit()
    client.post("/login", data={"email": me.email, "password": PASSWORD})
    token = session.query(ApiToken).one()
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is None


def test_the_tokens_command_creates_lists_and_revokes(runner, session, client):
    manager = UserFactory(email="ana@example.com")
    session.commit()
    created = runner.invoke(args=["tokens", "create", "ana@example.com", "--name", "nightly"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("fsla_")
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 200
    listed = runner.invoke(args=["tokens", "list", "ana@example.com", "--format", "csv"])
    assert "nightly" in listed.output and secret not in listed.output
    token_id = session.query(ApiToken).one().id
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 401
    assert runner.invoke(args=["tokens", "create", "nobody@example.com"]).exit_code != 0
    assert runner.invoke(args=["tokens", "revoke", "999999"]).exit_code != 0
    del manager


def test_a_search_with_control_characters_finds_by_the_rest(client, session):
    manager, secret = manager_with_token(session)
    hiring(session, manager, ("Ada Lovelace",))
    session.commit()
    found = client.post("/api/v1/candidates/search", json={"q": "lo\x00ve"}, headers=bearer(secret))
    assert found.status_code == 200 and [c["name"] for c in found.json["items"]] == ["Ada Lovelace"]


def test_a_search_takes_the_lists_filters_and_pages_in_its_body(client, session):
    manager, secret = manager_with_token(session)
    position, (ada, zoe, zora) = hiring(session, manager, ("Ada Lovelace", "Zoë Quinn", "Zora Neale"))
    other, _ = hiring(session, manager, ("Zoltan Kodaly",))
    session.commit()
    search = {"q": "zo", "position_id": position.id, "limit": 1}
    first = client.post("/api/v1/candidates/search", json=search, headers=bearer(secret)).json
    assert [c["id"] for c in first["items"]] == [zoe.id] and first["next_cursor"]
    search["cursor"] = first["next_cursor"]
    second = client.post("/api/v1/candidates/search", json=search, headers=bearer(secret)).json
    assert [c["id"] for c in second["items"]] == [zora.id] and second["next_cursor"] is None
    everyone = client.post("/api/v1/candidates/search", json={}, headers=bearer(secret)).json
    assert len(everyone["items"]) == 4
    misspelt = client.post("/api/v1/candidates/search", json={"query": "zo"}, headers=bearer(secret))
    assert misspelt.status_code == 422 and misspelt.json["errors"][0]["field"] == "query"
    too_long = client.post("/api/v1/candidates/search", json={"q": "z" * 201}, headers=bearer(secret))
    assert too_long.status_code == 422 and too_long.json["errors"][0]["field"] == "q"


def test_a_search_in_the_query_string_is_refused_and_points_at_the_search(client, session):
    """A name in a URL stays in access logs after the candidate is erased (RELIABILITY 41)."""
    manager, secret = manager_with_token(session)
    hiring(session, manager, ("Ada Lovelace",))
    session.commit()
    for query in ({"q": "ada"}, {"q": ""}, {"q": "ada", "limit": 5}):
        response = client.get("/api/v1/candidates", query_string=query, headers=bearer(secret))
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
        (error,) = response.json["errors"]
        assert error["field"] == "q" and error["location"] == "query"
        assert "POST /api/v1/candidates/search" in response.json["detail"]


def test_an_unknown_api_path_is_a_problem_too(client, session):
    manager, secret = manager_with_token(session)
    session.commit()
    response = client.get("/api/v1/candidates/-3", headers=bearer(secret))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_with_csrf_on_a_token_writes_and_a_session_still_cannot(csrf_on, app, client, session):
    manager, secret = manager_with_token(session)
    position, (ada,) = hiring(session, manager, ("Ada Lovelace",))
    session.commit()
    note = client.post(
        f"/api/v1/candidates/{ada.id}/timeline/notes", headers=bearer(secret), json={"body": "x"}
    )
    assert note.status_code == 201
    without_token = client.post(f"/api/v1/candidates/{ada.id}/timeline/notes", json={"body": "x"})
    assert without_token.status_code == 401
