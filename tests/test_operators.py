"""What operators call: /healthz, /readyz, the Prometheus endpoint and JSON log lines."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
import time_machine
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families

from feedback_sla import logs
from feedback_sla.ats.models import Delivery, Source
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.models import Candidate, Role
from feedback_sla.waits import service
from feedback_sla.web.ops import readiness

from .factories import UserFactory
from .helpers import count_statements, logged_in, ny
from .organisations import answering_org

TOKEN = "scrape-token-0123456789abcdef"
#: Friday 13 November 2026, noon in New York (the metrics page tests' moment).
NOW = ny(2026, 11, 13, 12)
#: Databases that do not answer: a folder that does not exist, a port nothing listens on.
UNREACHABLE = [
    "sqlite:////nonexistent-folder-for-tests/feedback_sla.sqlite3",
    "postgresql+psycopg://postgres@127.0.0.1:1/feedback_sla",
]


def _head(app) -> str:
    (head,) = ScriptDirectory(app.extensions["migrate"].directory).get_heads()
    return head


@pytest.fixture
def recorded_revision(app):
    """Write another revision into alembic_version for a test; the head is back afterwards."""
    head = _head(app)

    def write(revision: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    yield write
    write(head)


# --- liveness and readiness ----------------------------------------------------------------------


@pytest.mark.parametrize("uri", UNREACHABLE)
def test_healthz_answers_while_the_database_does_not(make_app, uri):
    app = make_app(SQLALCHEMY_DATABASE_URI=uri)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_sends_no_statement_even_for_a_logged_in_browser(client, session):
    logged_in(client, UserFactory())
    with count_statements() as statements:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert statements == []
    assert "Set-Cookie" not in response.headers


def test_readyz_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "migrations": "current"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("uri", UNREACHABLE)
def test_readyz_when_the_database_does_not_answer(make_app, uri):
    app = make_app(SQLALCHEMY_DATABASE_URI=uri)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_when_the_migrations_are_behind(app, client, recorded_revision):
    recorded_revision("0007_event_order")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "database": "ok",
        "migrations": "behind",
        "database_revision": ["0007_event_order"],
        "code_revision": [_head(app)],
    }


def test_readyz_when_the_database_is_newer_than_the_code(client, recorded_revision):
    recorded_revision("9999_from_a_newer_release")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["migrations"] == "unknown"


def test_a_database_never_migrated_is_missing(app):
    scripts = ScriptDirectory(app.extensions["migrate"].directory)
    assert readiness.migration_state((), (_head(app),), scripts) == "missing"


def test_probes_need_no_login_and_no_csrf(make_app):
    app = make_app(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


# --- the Prometheus endpoint ---------------------------------------------------------------------


def _scrape(client, token: str = TOKEN):
    return client.get("/ops/metrics", headers={"Authorization": f"Bearer {token}"})


def _samples(response) -> dict[tuple[str, tuple], float]:
    """Every sample as ((name, sorted labels), value)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_the_endpoint_is_off_without_a_token(client):
    assert client.get("/ops/metrics").status_code == 404
    assert _scrape(client).status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_a_wrong_or_missing_token_is_refused(make_app, header):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    headers = {"Authorization": header} if header else {}
    response = client.get("/ops/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "feedback_sla" not in response.get_data(as_text=True)


def test_the_token_may_come_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("FEEDBACK_SLA_METRICS_TOKEN", TOKEN)
    response = _scrape(make_app().test_client())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "no-store"


def _outbox(session, candidate, status: OutboxStatus, queued_at: dt.datetime, n: int) -> None:
    session.add(
        OutboxMessage(
            candidate_id=candidate.id,
            kind=EmailKind.UPDATE,
            to_name=candidate.name,
            to_address=candidate.email,
            subject="An update",
            text_body="Text",
            html_body="<p>Text</p>",
            message_id=f"<{n}@example.com>",
            idempotency_key=f"ops-test-{n}",
            status=status,
            queued_at=queued_at,
            send_after=queued_at,
            next_attempt_at=queued_at,
        )
    )


@pytest.fixture
def deliveries(session):
    """Webhook deliveries: Greenhouse 2 processed and 1 failed, Lever 1 ignored."""
    admin = UserFactory(role=Role.ADMIN)
    outcomes = {"greenhouse": ["processed", "processed", "failed"], "lever": ["ignored"]}
    for kind, statuses in outcomes.items():
        source = Source(public_id=f"ops-{kind}", kind=kind, name=kind, secret="s", default_manager=admin)
        for number, status in enumerate(statuses):
            session.add(
                Delivery(
                    source=source,
                    event_id=f"e{number}",
                    event_type="candidate.updated",
                    received_at=NOW,
                    body="{}",
                    status=status,
                )
            )
    session.commit()


@pytest.fixture
def seeded(session, deliveries):
    """The metrics page's organisation at NOW: open waits 2 escalated (Ivan, Kim), 1 overdue
    (Fay), 1 due soon (Lea), 1 on track (Gil); the outbox 2 pending (queued 90 and 10 minutes
    ago), 1 failed and 1 sent."""
    with time_machine.travel(NOW, tick=False):
        org = answering_org(session)
        for name, applied_at in (("Lea", ny(2026, 11, 5, 9)), ("Kim", ny(2026, 8, 3, 9))):
            email = f"{name.lower()}@example.com"
            service.add_candidate(session, org["designer"], name, email, applied_at, org["settings"])
        candidate = session.scalars(sa.select(Candidate).order_by(Candidate.id)).first()
        for n, (status, minutes) in enumerate(
            (
                (OutboxStatus.PENDING, 90),
                (OutboxStatus.PENDING, 10),
                (OutboxStatus.FAILED, 600),
                (OutboxStatus.SENT, 900),
            )
        ):
            _outbox(session, candidate, status, NOW - dt.timedelta(minutes=minutes), n)
        session.commit()
        yield


def test_the_figures_of_a_seeded_organisation(make_app, seeded):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    with time_machine.travel(NOW, tick=False):
        response = _scrape(client)
    assert response.status_code == 200
    samples = _samples(response)

    def gauge(name: str, **labels) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert {status: gauge("feedback_sla_outbox_messages", status=status) for status in OutboxStatus} == {
        "pending": 2,
        "sending": 0,
        "sent": 1,
        "failed": 1,
        "cancelled": 0,
        "bounced": 0,
    }
    assert gauge("feedback_sla_outbox_oldest_pending_seconds") == 90 * 60
    states = ("escalated", "overdue", "due_soon", "on_track")
    assert {s: gauge("feedback_sla_open_waits", state=s) for s in states} == {
        "escalated": 2,
        "overdue": 1,
        "due_soon": 1,
        "on_track": 1,
    }
    deliveries = {
        (dict(labels)["source"], dict(labels)["outcome"]): value
        for (name, labels), value in samples.items()
        if name == "feedback_sla_webhook_deliveries"
    }
    assert {pair: n for pair, n in deliveries.items() if n} == {
        ("greenhouse", "processed"): 2,
        ("greenhouse", "failed"): 1,
        ("lever", "ignored"): 1,
    }
    assert deliveries[("workable", "failed")] == 0  # every kind and outcome has its series


def test_a_scrape_costs_the_same_statements_for_few_and_many(make_app, session):
    """Counted in the database: one grouped statement per figure, never a row per message or wait."""
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    org = answering_org(session)
    session.commit()
    _scrape(client)
    with count_statements() as few:
        _scrape(client)
    for i in range(40):
        name = f"Extra {i}"
        service.add_candidate(session, org["backend"], name, f"extra{i}@example.com", NOW, org["settings"])
    session.commit()
    with count_statements() as many:
        _scrape(client)
    assert len(many) == len(few)


def test_an_empty_outbox_has_no_pending_age(make_app):
    samples = _samples(_scrape(make_app(METRICS_TOKEN=TOKEN).test_client()))
    assert samples[("feedback_sla_outbox_oldest_pending_seconds", ())] == 0


def test_the_latency_histogram_counts_requests_by_endpoint(make_app):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page")
    client.open("/healthz", method="BREW")
    samples = _samples(_scrape(client))

    def count(endpoint: str, method: str, status: str) -> float:
        labels = (("endpoint", endpoint), ("method", method), ("status", status))
        return samples.get(("feedback_sla_request_seconds_count", labels), 0)

    assert count("ops.healthz", "GET", "200") == 2
    assert count("none", "GET", "404") == 1  # a path that matches no page: no path in the labels
    assert count("none", "other", "405") == 1  # a method nobody uses is "other"
    assert not any("no-such-page" in str(key) for key in samples)


# --- settings and JSON log lines -----------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides", [{"LOG_FORMAT": "xml"}, {"METRICS_TOKEN": "short"}, {"METRICS_TOKEN": 12345678901234567}]
)
def test_bad_operator_settings_stop_the_app(make_app, overrides):
    with pytest.raises(ConfigurationError, match=next(iter(overrides))):
        make_app(**overrides)


@pytest.fixture
def json_logs():
    """Whatever a test configures, the root logger is as before afterwards."""
    yield
    logs.configure("text")


def _json_lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_json_log_lines_include_an_exception(make_app, capsys, json_logs):
    app = make_app(LOG_FORMAT="json")

    def broken():
        raise RuntimeError("the disk is full")

    app.add_url_rule("/broken-for-the-test", view_func=broken)
    capsys.readouterr()
    assert app.test_client().get("/broken-for-the-test").status_code == 500
    lines = _json_lines(capsys.readouterr().err)
    (entry,) = [line for line in lines if line["message"] == "unhandled error"]
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "feedback_sla"
    assert "RuntimeError: the disk is full" in entry["exc_info"]
    assert dt.datetime.fromisoformat(entry["time"]).tzinfo is not None


def test_json_log_lines_from_a_command(make_app, capsys, json_logs):
    make_app(LOG_FORMAT="json", COMMAND_LINE=True)
    capsys.readouterr()
    logging.getLogger("feedback_sla.worker").info("delivered %d messages\nin one batch", 3)
    (entry,) = _json_lines(capsys.readouterr().err)
    assert entry["logger"] == "feedback_sla.worker"
    assert entry["level"] == "INFO"
    assert entry["message"] == "delivered 3 messages\nin one batch"
    assert "exc_info" not in entry


def test_text_logs_take_the_json_handler_back(make_app, json_logs):
    make_app(LOG_FORMAT="json")
    make_app(LOG_FORMAT="json")
    root = logging.getLogger()
    assert sum(isinstance(h, logs.JsonLinesHandler) for h in root.handlers) == 1
    make_app(LOG_FORMAT="text")
    assert not any(isinstance(h, logs.JsonLinesHandler) for h in root.handlers)


#: Run in a fresh interpreter: prometheus_client picks its multiprocess storage when imported.
_WORKER = """
import json, sys
from feedback_sla import create_app
client = create_app(json.loads(sys.argv[1])).test_client()
for _ in range(int(sys.argv[2])):
    client.get("/healthz")
if sys.argv[3] == "scrape":
    answer = client.get("/ops/metrics", headers={"Authorization": "Bearer " + sys.argv[4]})
    print(answer.get_data(as_text=True))
"""


def test_several_worker_processes_share_the_latency_histogram(app_config, tmp_path, session):
    """With PROMETHEUS_MULTIPROC_DIR, a scrape answered by one gunicorn worker counts every worker's
    requests (the library's multiprocess mode); each worker's figures live in that folder."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path)}
    config = json.dumps({**app_config, "METRICS_TOKEN": TOKEN})

    def worker(requests: int, *scrape: str) -> str:
        args = [sys.executable, "-c", _WORKER, config, str(requests), *(scrape or ("-",))]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    worker(3)
    exposition = worker(2, "scrape", TOKEN)
    counts = {
        sample.labels["endpoint"]: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "feedback_sla_request_seconds_count" and sample.labels["status"] == "200"
    }
    assert counts["ops.healthz"] == 5
    assert "feedback_sla_open_waits" in exposition  # the database figures are in the same scrape
