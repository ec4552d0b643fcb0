"""Every page opens, for an admin and for a manager, on the demo organisation: none answers 500."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from feedback_sla import demo
from feedback_sla.accounts.service import find_by_email
from feedback_sla.candidates.models import Candidate
from feedback_sla.emails import library
from feedback_sla.positions.models import Position
from feedback_sla.timeutil import utcnow

from .helpers import login


def demo_manager_id(session) -> int:
    return find_by_email(session, demo.MANAGERS[0][0]).id


SKIPPED = {"static", "bootstrap.static"}
#: Endpoints that answer machines, not people (probes, the Prometheus scrape, the JSON API and its
#: document): no page to open.
#: Not pages of a logged-in user: the operators' probes, the API, and the pages a private link opens
#: (the candidate's status page, a manager's calendar feed, the digest's unsubscribe link), each
#: tested with its token on its own.
NOT_PAGES = ("ops.", "api.", "api-docs.", "status.", "calendar.", "digest.")


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_every_page_opens(app, client, session, who):
    demo.seed(session, utcnow())
    session.commit()
    email = demo.ADMIN[0] if who == "admin" else demo.MANAGERS[0][0]
    user = find_by_email(session, email)
    assert login(client, user, password=demo.DEMO_PASSPHRASE).status_code == 302
    position = session.scalar(sa.select(Position).where(Position.manager_id == demo_manager_id(session)))
    candidate = session.scalar(sa.select(Candidate).where(Candidate.position_id == position.id))
    template = library.add(
        session, "rejection", "After the final interview", "Hi", "Hi", "<p>Hi</p>", None, utcnow()
    )
    session.commit()
    values = {
        "candidate_id": candidate.id,
        "position_id": position.id,
        "kind": "rejection",
        "template_id": template.id,
    }
    opened = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED or rule.endpoint == "auth.login":
            continue
        if rule.endpoint.startswith(NOT_PAGES):
            continue
        url = app.url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
        response = client.get(url)
        admin_only = rule.rule.startswith("/admin")
        expected = 404 if admin_only and who == "manager" else 200
        assert response.status_code == expected, (url, response.status_code)
        if expected == 200:
            page = response.get_data(as_text=True)
            assert page.count("<h1") == 1, url
            opened.append(url)
    assert len(opened) >= 10
