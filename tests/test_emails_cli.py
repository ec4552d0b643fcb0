"""The ``emails`` and ``worker`` commands: thin callers of the email service, failing loudly."""

import datetime as dt
import re

import flask_migrate
import pytest
import sqlalchemy as sa
import time_machine
from alembic.script import ScriptDirectory

from feedback_sla import create_app
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.emails import composing
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

from .emails_support import T0, make_candidate
from .helpers import login


@pytest.fixture
def mail_dir(app, tmp_path):
    app.config["OUTBOX_MAIL_DIR"] = str(tmp_path / "mail")
    return tmp_path / "mail"


def outbox(session):
    session.expire_all()
    return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_queue_undo_list_and_show_from_the_command_line(runner, session, mail_dir):
    candidate = make_candidate(session, name="Jane Doe")
    manager = candidate.position.manager
    with time_machine.travel(T0, tick=False):
        result = runner.invoke(
            args=[
                "emails",
                "queue",
                str(candidate.id),
                "rejection",
                "--reason",
                "budget",
                "--as",
                manager.email,
            ]
        )
    assert result.exit_code == 0, result.output
    [message] = outbox(session)
    assert f"email {message.id} (rejection) to {candidate.email} queued" in result.output
    assert message.reasons == ["budget"] and message.queued_by_id == manager.id

    listed = runner.invoke(args=["emails", "list", "--format", "csv", "--candidate", str(candidate.id)])
    assert listed.exit_code == 0
    assert f"{message.id},{candidate.id},rejection,{candidate.email}" in listed.output
    shown = runner.invoke(args=["emails", "show", str(message.id)])
    assert f"Message-ID: {message.message_id}" in shown.output and "Internal reasons: budget" in shown.output

    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        undone = runner.invoke(args=["emails", "undo", str(message.id)])
    assert undone.exit_code == 0 and f"email {message.id} cancelled" in undone.output
    assert outbox(session)[0].status == OutboxStatus.CANCELLED
    assert session.get(Candidate, candidate.id).status == Status.ACTIVE


def test_a_refused_command_exits_non_zero_with_the_reason_and_writes_nothing(runner, session, mail_dir):
    candidate = make_candidate(session)
    with time_machine.travel(T0, tick=False):
        result = runner.invoke(
            args=["emails", "queue", str(candidate.id), "rejection", "--promised-by", "2026-11-25"]
        )
        assert result.exit_code == 1
        assert "promised date: a rejection carries no promised date" in result.output
        bad_date = runner.invoke(
            args=["emails", "queue", str(candidate.id), "update", "--promised-by", "Friday"]
        )
        assert bad_date.exit_code == 2 and "'Friday' is not an ISO 8601 date" in bad_date.output
        missing = runner.invoke(args=["emails", "queue", "999999", "offer"])
        assert missing.exit_code == 2 and "no candidate with id 999999" in missing.output
        late = runner.invoke(args=["emails", "undo", "999999"])
        assert late.exit_code == 1 and "no email with id 999999" in late.output
    assert outbox(session) == []


def test_an_update_without_promised_by_promises_the_date_the_browser_offers(
    runner, session, client, mail_dir
):
    # Friday 20 November 2026, afternoon: the decision policy's 3 business days cross the weekend.
    friday = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)
    candidate = make_candidate(session, applied_at=friday)
    with time_machine.travel(friday, tick=False):
        waits.interview_held(session, candidate, friday, OrgSettings())
        session.commit()
        login(client, candidate.position.manager)
        page = client.get(f"/candidates/{candidate.id}").get_data(as_text=True)
        offered = re.search(r'<input[^>]*id="update-promised_date"[^>]*value="([0-9-]+)"', page).group(1)
        result = runner.invoke(args=["emails", "queue", str(candidate.id), "update"])
    assert result.exit_code == 0, result.output
    [message] = outbox(session)
    assert offered == "2026-11-25"  # Wed: Mon, Tue, Wed are the three business days
    assert message.kind == EmailKind.UPDATE and message.promised_date.isoformat() == offered


def test_the_worker_command_drains_what_is_due_once(runner, session, mail_dir):
    candidate = make_candidate(session)
    with time_machine.travel(T0, tick=False):
        runner.invoke(args=["emails", "queue", str(candidate.id), "next_step"])
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        early = runner.invoke(args=["worker", "--once"])
    assert early.exit_code == 0 and "sent 0, will retry 0, failed 0" in early.output
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "sent 1, will retry 0, failed 0" in result.output
    assert len(list(mail_dir.glob("*.eml"))) == 1
    assert outbox(session)[0].sent_at == T0 + dt.timedelta(seconds=61)


def test_templates_from_the_command_line(runner, session, tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("Dear {{ candidate_first_name }}, good news.\n")
    bad.write_text("Dear {{ candidate_first_name }}, your salary is {{ salary }}.\n")

    refused = runner.invoke(args=["emails", "template", "set", "offer", "--text", str(bad)])
    assert refused.exit_code == 1 and "text: unknown placeholder salary" in refused.output
    assert composing.default_row(session, EmailKind.OFFER) is None

    saved = runner.invoke(args=["emails", "template", "set", "offer", "--text", str(good), "--subject", "Hi"])
    assert saved.exit_code == 0, saved.output
    preview = runner.invoke(args=["emails", "template", "preview", "offer"])
    assert "Subject: Hi" in preview.output and "Dear Alex, good news." in preview.output
    shown = runner.invoke(args=["emails", "template", "show", "offer", "--part", "html"])
    assert "{{ candidate_first_name }}" in shown.output  # the HTML part kept its default

    reset = runner.invoke(args=["emails", "template", "reset", "offer"])
    assert "offer template reset to the default" in reset.output
    assert composing.default_row(session, EmailKind.OFFER) is None


def test_upgrading_a_database_that_holds_data_keeps_every_row_and_leaves_one_head(tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(tmp_path / "instance"))
    uri = "sqlite:///" + str(tmp_path / "old.sqlite3")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        flask_migrate.upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (email, name, password_hash, role, time_zone, digest_hour,"
                    " active, session_version, created_at) VALUES ('a@example.com', 'A', 'x', 'admin',"
                    " 'UTC', 8, 1, 1, '2026-11-01 00:00:00')"
                )
            )
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT email FROM users")).scalars().all() == ["a@example.com"]
            assert conn.execute(sa.text("SELECT count(*) FROM outbox_messages")).scalar() == 0
        heads = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_heads()
        assert len(heads) == 1, heads
        db.engine.dispose()
