"""Worker processes and threads: concurrent workers, a graceful stop, the embedded background worker."""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import Event, EventKind
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.worker import start_background_worker

from .emails_support import ORG, Recorder, SmtpSink, free_port
from .factories import PositionFactory, UserFactory

FEEDBACK_SLA = str(Path(sys.executable).with_name("feedback-sla"))
#: When the messages of the worker processes' tests are queued: a fixed past time, so they are due
#: whatever clock the worker process runs on (the machine's), and the test's own may be moved.
QUEUED_AT = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)


def queue_many(app, session, count: int, at: dt.datetime) -> list[OutboxMessage]:
    config = EmailConfig.from_app(app)
    position = PositionFactory(manager=UserFactory(name="Maria Lopez"), title="Backend Engineer")
    messages = []
    for i in range(count):
        candidate = waits.add_candidate(
            session, position, f"Candidate {i}", f"c{i}@example.com", at - dt.timedelta(days=1), ORG
        )
        messages.append(
            answers.queue_email(session, EmailRequest(candidate, "next_step", f"k{i}", at), config, ORG)
        )
    session.commit()
    return messages


def worker_env(app, tmp_path, **settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_SLA_")}
    env["FEEDBACK_SLA_DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["FEEDBACK_SLA_INSTANCE_PATH"] = str(tmp_path / "worker-instance")
    env.update({f"FEEDBACK_SLA_{key}": str(value) for key, value in settings.items()})
    return env


def test_two_worker_processes_deliver_each_of_200_messages_exactly_once(app, session, tmp_path):
    port = free_port()
    messages = queue_many(app, session, 200, QUEUED_AT)
    recorder = Recorder()
    recorder.rendezvous = 2  # no message is accepted before both workers are connected
    recorder.delay = 0.002
    env = worker_env(
        app,
        tmp_path,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_TIMEOUT=40,
        OUTBOX_BATCH_SIZE=10,
        OUTBOX_UNDO_SECONDS=0,
    )
    with SmtpSink(recorder, port=port):
        workers = [
            subprocess.Popen(
                [FEEDBACK_SLA, "worker", "--once"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    sent_by_worker = [int(re.search(r"sent (\d+)", out).group(1)) for out, _ in outputs]
    assert sum(sent_by_worker) == 200 and all(sent_by_worker), sent_by_worker

    ids = recorder.message_ids()
    assert len(ids) == 200 and set(ids) == {m.message_id for m in messages}
    session.expire_all()
    statuses = session.scalars(sa.select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.SENT] * 200
    sent_events = session.scalar(
        sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.EMAIL_SENT)
    )
    assert sent_events == 200


def test_the_worker_runs_until_sigterm_and_then_stops_cleanly(app, session, tmp_path):
    mail_dir = tmp_path / "mail"
    env = worker_env(app, tmp_path, OUTBOX_MAIL_DIR=mail_dir, OUTBOX_POLL_SECONDS=0.1)
    worker = subprocess.Popen(
        [FEEDBACK_SLA, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert "outbox worker delivering by file" in worker.stdout.readline()
        queue_many(app, session, 1, QUEUED_AT)
        deadline = time.monotonic() + 20
        while not (mail_dir.exists() and any(mail_dir.glob("*.eml"))) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(mail_dir.glob("*.eml"))) == 1
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "SIGTERM: stopping after the current message" in err
    assert out.strip().endswith("sent 1, will retry 0, failed 0")


def test_the_background_worker_delivers_queued_mail_in_this_process(app, session, tmp_path):
    app.config.update(OUTBOX_MAIL_DIR=str(tmp_path / "mail"), OUTBOX_POLL_SECONDS=0.05)
    [message] = queue_many(app, session, 1, QUEUED_AT)
    worker = start_background_worker(app)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            session.expire_all()
            if session.get(OutboxMessage, message.id).status == OutboxStatus.SENT:
                break
            time.sleep(0.05)
    finally:
        worker.stop(timeout=10)
    assert not worker.thread.is_alive()
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.SENT
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_a_bad_outbox_setting_is_refused_with_its_name(app):
    app.config["OUTBOX_MAX_ATTEMPTS"] = "many"
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert "OUTBOX_MAX_ATTEMPTS: 'many' is not a number" in result.output
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, MAIL_BACKEND="smtp")
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert "MAIL_SERVER: the smtp backend needs a mail server host" in result.output
    with pytest.raises(Exception, match="MAIL_SERVER"):
        start_background_worker(app)
    app.config.update(MAIL_SERVER="mail.example.com", MAIL_PORT="smtp")
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1 and "MAIL_PORT: 'smtp' is not a number" in result.output
