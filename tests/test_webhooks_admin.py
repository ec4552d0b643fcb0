"""ATS sources as admins see them: ``feedback-sla sources create|list|retry`` and the admin page,
which shows a new source's URL and secret once and lists the failed deliveries with a Retry button."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from feedback_sla.ats.models import Delivery, DeliveryStatus, Source
from feedback_sla.candidates.models import Candidate
from feedback_sla.models import Role

from .factories import UserFactory
from .helpers import logged_in, text
from .webhooks_support import body_of, greenhouse_headers, sample


@pytest.fixture
def admin(session):
    user = UserFactory(email="admin@example.com", role=Role.ADMIN)
    session.commit()
    return user


def test_sources_create_prints_the_url_and_the_secret(runner, session, admin):
    result = runner.invoke(
        args=["sources", "create", "greenhouse", "--name", "Greenhouse", "--manager", admin.email]
    )
    assert result.exit_code == 0, result.output
    source = session.scalar(select(Source))
    assert f"/hooks/greenhouse/{source.public_id}" in result.output
    assert f"secret: {source.secret}" in result.output and len(source.secret) >= 32
    listed = runner.invoke(args=["sources", "list"])
    assert source.public_id in listed.output and source.secret not in listed.output


def test_sources_create_refuses_what_it_cannot_use(runner, session, admin):
    lever = runner.invoke(args=["sources", "create", "lever", "--name", "L", "--manager", admin.email])
    assert lever.exit_code != 0 and "API key" in lever.output
    stage = [
        "sources",
        "create",
        "ashby",
        "--name",
        "A",
        "--manager",
        admin.email,
        "--stage",
        "Vibes=nowhere",
    ]
    bad_stage = runner.invoke(args=stage)
    assert bad_stage.exit_code != 0 and "'nowhere' is not a stage" in bad_stage.output
    nobody = runner.invoke(
        args=["sources", "create", "workable", "--name", "W", "--manager", "no@example.com"]
    )
    assert nobody.exit_code != 0
    assert session.scalar(select(Source)) is None


def test_the_admin_page_shows_the_secret_once_and_retries_failed_deliveries(client, session, admin):
    logged_in(client, admin)
    created = client.post(
        "/admin/sources", data={"kind": "greenhouse", "name": "Greenhouse (Acme)", "manager": admin.id}
    )
    assert created.status_code == 200, text(created)
    source = session.scalar(select(Source))
    page = text(created)
    assert source.secret in page and f"/hooks/greenhouse/{source.public_id}" in page
    again = text(client.get("/admin/sources"))
    assert source.secret not in again and "Greenhouse (Acme)" in again

    # A delivery that could not be processed (its candidate has no address), then fixed by hand.
    payload = sample("greenhouse_new_candidate_application")
    payload["payload"]["application"]["candidate"]["email_addresses"] = []
    body = body_of(payload)
    response = client.post(
        f"/hooks/greenhouse/{source.public_id}", data=body, headers=greenhouse_headers(source.secret, body)
    )
    assert response.status_code == 202
    delivery = session.scalar(select(Delivery))
    assert delivery.status == DeliveryStatus.FAILED
    page = text(client.get("/admin/sources"))
    assert re.search(rf'data-failed-delivery="{delivery.id}"', page) and "email_addresses" in page
    fixed = sample("greenhouse_new_candidate_application")
    delivery.body = body_of(fixed).decode()
    session.commit()
    retried = client.post(f"/admin/sources/deliveries/{delivery.id}/retry", follow_redirects=True)
    assert "was processed" in text(retried)
    session.expire_all()
    assert session.scalar(select(Delivery.status)) == DeliveryStatus.PROCESSED
    assert session.scalar(select(Candidate.email)) == "ada@example.org"


def test_the_sources_page_is_for_admins_only(client, session):
    manager = UserFactory()
    logged_in(client, manager)
    assert client.get("/admin/sources").status_code == 404
    assert client.post("/admin/sources", data={"kind": "greenhouse", "name": "x"}).status_code == 404
    assert session.scalar(select(Source)) is None
