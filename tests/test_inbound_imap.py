"""Replies read from a real IMAP server (Dovecot, tests/imap_support.py): each message once, then moved.

The poller is tested with a recording stand-in for the service; ``feedback-sla inbound imap`` with
the real one, on the sample messages of tests/mail.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import Event, EventKind
from feedback_sla.config import DEFAULTS, ConfigurationError
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxStatus
from feedback_sla.inbound import imap
from feedback_sla.inbound.imap import ImapError, TryLater, poll_once
from feedback_sla.inbound.imap_settings import ImapSettings
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import answers
from feedback_sla.worker import run_worker

from .emails_support import Silent, free_port, make_candidate
from .imap_support import ASCII_PASSWORD, ASCII_USER, dovecot_or_skip, render, start_dovecot, stop_dovecot


@pytest.fixture(scope="module")
def dovecot():
    dovecot_or_skip()
    server = start_dovecot()
    yield server
    stop_dovecot(server)


@pytest.fixture
def mailbox(dovecot):
    dovecot.empty()
    return dovecot


def settings_for(mailbox, security: str = "none", **overrides) -> ImapSettings:
    return ImapSettings.from_mapping({**DEFAULTS, **mailbox.settings(security, **overrides)})


def note(n: int, sender: str = "someone@example.net") -> bytes:
    return (
        f"From: {sender}\r\nTo: jobs@acme.example\r\nSubject: Note {n}\r\n"
        f"Message-ID: <note-{n}@example.net>\r\n\r\nNote number {n}.\r\n"
    ).encode()


class Recorder:
    """Stands in for the service: keeps what it was given; ``fail`` decides per message."""

    def __init__(self, fail=None) -> None:
        self.keys: list[str] = []
        self.raws: list[bytes] = []
        self.fail = fail

    def __call__(self, raw: bytes, key: str) -> None:
        if self.fail:
            self.fail(raw, key)
        self.keys.append(key)
        self.raws.append(raw)


# --- settings -------------------------------------------------------------------------------------


def _settings(**values) -> dict:
    return {
        **DEFAULTS,
        "INBOUND_IMAP_HOST": "imap.acme.example",
        "INBOUND_IMAP_USER": "jobs@acme.example",
        "INBOUND_IMAP_PASSWORD": "secret",
        **values,
    }


def test_settings_default_to_imaps_on_993_and_starttls_on_143():
    settings = ImapSettings.from_mapping(_settings())
    assert (settings.security, settings.port, settings.folder, settings.done_folder) == (
        "imaps",
        993,
        "INBOX",
        "Processed",
    )
    assert ImapSettings.from_mapping(_settings(INBOUND_IMAP_SECURITY="starttls")).port == 143
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"INBOUND_IMAP_HOST": None}, "INBOUND_IMAP_HOST (FEEDBACK_SLA_INBOUND_IMAP_HOST): must be set"),
        ({"INBOUND_IMAP_PASSWORD": ""}, "INBOUND_IMAP_PASSWORD (FEEDBACK_SLA_INBOUND_IMAP_PASSWORD)"),
        ({"INBOUND_IMAP_SECURITY": "ssl"}, "'ssl' is not one of imaps, starttls, none"),
        ({"INBOUND_IMAP_SECURITY": "none"}, "unencrypted to imap.acme.example"),
        ({"INBOUND_IMAP_PORT": 70_000}, "INBOUND_IMAP_PORT (FEEDBACK_SLA_INBOUND_IMAP_PORT): 70000"),
        ({"INBOUND_IMAP_CA_FILE": "/nowhere/ca.pem"}, "INBOUND_IMAP_CA_FILE"),
        ({"INBOUND_IMAP_DONE_FOLDER": "Erledigt ✓"}, "INBOUND_IMAP_DONE_FOLDER"),
        ({"INBOUND_IMAP_DONE_FOLDER": "INBOX"}, "must differ from the done and failed folders"),
        ({"INBOUND_IMAP_INTERVAL": 0}, "INBOUND_IMAP_INTERVAL"),
        ({"INBOUND_IMAP_TIMEOUT": "soon"}, "INBOUND_IMAP_TIMEOUT"),
        ({"INBOUND_IMAP_USER": "jobs\r\n"}, "must not contain a line break"),
    ],
)
def test_a_bad_setting_is_refused_by_name(values, words):
    with pytest.raises(ConfigurationError) as refused:
        ImapSettings.from_mapping(_settings(**values))
    assert words in str(refused.value)


def test_plain_imap_is_allowed_on_loopback_only_and_a_numeric_password_stays_text():
    settings = ImapSettings.from_mapping(
        _settings(INBOUND_IMAP_HOST="localhost", INBOUND_IMAP_SECURITY="NONE", INBOUND_IMAP_PASSWORD=123456)
    )
    assert (settings.security, settings.port, settings.password) == ("none", 143, "123456")


# --- the poller on Dovecot ------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["none", "starttls", "imaps"])
def test_each_message_is_processed_once_and_moved_over_every_security(mailbox, security):
    uids = [mailbox.append(note(n)) for n in range(3)]
    process = Recorder()
    settings = settings_for(mailbox, security)

    report = poll_once(settings, process)

    assert (report.processed, report.failed, report.left) == (3, 0, 0)
    assert [key.rsplit(":", 1)[1] for key in process.keys] == [str(uid) for uid in uids]
    assert all(key.startswith("INBOX:") for key in process.keys)
    assert [raw.replace(b"\r\n", b"\n") for raw in process.raws] == [
        note(n).replace(b"\r\n", b"\n") for n in range(3)
    ]
    assert mailbox.messages("INBOX") == [] and len(mailbox.messages("Processed")) == 3
    assert b"\\Seen" not in b"".join(mailbox.flags("Processed"))  # fetched with BODY.PEEK

    again = poll_once(settings, process)
    assert (again.processed, len(process.keys)) == (0, 3)


@pytest.mark.parametrize("security", ["starttls", "imaps"])
def test_a_certificate_nobody_vouches_for_is_refused(mailbox, security):
    with pytest.raises(ImapError, match="certificate verify failed") as refused:
        poll_once(settings_for(mailbox, security, INBOUND_IMAP_CA_FILE=None), Recorder())
    assert "INBOUND_IMAP_CA_FILE" in str(refused.value)


@pytest.mark.parametrize("uidplus", [True, False])
def test_a_server_without_move_gets_copy_delete_and_expunge(mailbox, monkeypatch, uidplus):
    original = imap.Mailbox._capabilities

    def without_move(self):
        return original(self) - {"MOVE"} - (set() if uidplus else {"UIDPLUS"})

    monkeypatch.setattr(imap.Mailbox, "_capabilities", without_move)
    for n in range(2):
        mailbox.append(note(n))

    report = poll_once(settings_for(mailbox), Recorder())

    assert report.processed == 2
    assert mailbox.messages("INBOX") == [] and len(mailbox.messages("Processed")) == 2


def test_a_message_that_cannot_be_read_goes_to_the_failed_folder_and_the_rest_go_on(mailbox, caplog):
    def refuse_the_second(raw, key):
        if b"Note 1" in raw:
            raise ValueError("the message is 12,000,000 bytes; the limit is 10,485,760")

    for n in range(3):
        mailbox.append(note(n))

    report = poll_once(settings_for(mailbox), Recorder(refuse_the_second))

    assert (report.processed, report.failed) == (2, 1)
    assert [b"Note 1" in raw for raw in mailbox.messages("Failed")] == [True]
    assert len(mailbox.messages("Processed")) == 2 and mailbox.messages("INBOX") == []
    assert "could not be read; moving it to Failed" in caplog.text
    assert "the limit is 10,485,760" in caplog.text


def test_a_database_outage_leaves_the_message_and_the_rest_for_the_next_poll(mailbox):
    down = True

    def database(raw, key):
        if down and b"Note 1" in raw:
            raise TryLater("the database could not take it: connection refused")

    for n in range(3):
        mailbox.append(note(n))
    process = Recorder(database)
    settings = settings_for(mailbox)

    report = poll_once(settings, process)
    assert (report.processed, report.left) == (1, 2)
    assert "2 left in INBOX for the next poll: the database could not take it" in report.summary(settings)
    assert len(mailbox.messages("INBOX")) == 2

    down = False
    assert poll_once(settings, process).processed == 2
    assert mailbox.messages("INBOX") == [] and mailbox.messages("Failed") == []


def test_stop_finishes_the_current_message_and_leaves_the_rest(mailbox):
    stop = threading.Event()
    for n in range(3):
        mailbox.append(note(n))

    report = poll_once(settings_for(mailbox), Recorder(lambda raw, key: stop.set()), stop=stop)

    assert report.processed == 1
    assert len(mailbox.messages("INBOX")) == 2


def test_a_running_poller_reads_new_mail_at_each_interval_until_stopped(mailbox):
    stop = threading.Event()
    process = Recorder()
    settings = settings_for(mailbox, INBOUND_IMAP_INTERVAL=1)
    found: list = []
    poller = threading.Thread(target=lambda: found.append(imap.run(settings, process, once=False, stop=stop)))
    poller.start()
    try:
        mailbox.append(note(1))
        _wait_for(lambda: len(process.keys) == 1)
        mailbox.append(note(2))
        _wait_for(lambda: len(process.keys) == 2)
    finally:
        stop.set()
        poller.join(10)
    assert not poller.is_alive() and found[0].processed == 2


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the poller did not get there in time"
        time.sleep(0.05)


def test_an_ascii_password_logs_in_with_login(mailbox):
    reader = settings_for(mailbox, INBOUND_IMAP_USER=ASCII_USER, INBOUND_IMAP_PASSWORD=ASCII_PASSWORD)
    assert poll_once(reader, Recorder()).processed == 0


def test_a_certificate_file_that_holds_no_certificate_is_named(mailbox, tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ImapError, match="INBOUND_IMAP_CA_FILE .*ca.pem: no PEM certificate could be read"):
        poll_once(settings_for(mailbox, "imaps", INBOUND_IMAP_CA_FILE=str(tmp_path / "ca.pem")), Recorder())


def test_a_wrong_password_is_an_error_naming_the_user(mailbox):
    with pytest.raises(ImapError, match="refused the login of jobs@acme.example"):
        poll_once(settings_for(mailbox, INBOUND_IMAP_PASSWORD="not the password"), Recorder())


def test_a_server_that_never_answers_fails_within_the_timeout():
    port = free_port()
    settings = ImapSettings.from_mapping(
        _settings(INBOUND_IMAP_HOST="127.0.0.1", INBOUND_IMAP_PORT=port, INBOUND_IMAP_TIMEOUT=0.5)
    )
    started = time.monotonic()
    with Silent(port), pytest.raises(ImapError, match=f"cannot reach the IMAP server 127.0.0.1:{port}"):
        poll_once(settings, Recorder())
    assert time.monotonic() - started < 3


# --- feedback-sla inbound imap, with the real service ---------------------------------------------


@pytest.fixture
def sent_update(app, session, tmp_path):
    """An update email sent to Zoë, the sender of the sample reply; the email's row."""
    app.config.update(OUTBOX_MAIL_DIR=str(tmp_path / "outbox-mail"), OUTBOX_UNDO_SECONDS=0)
    now = utcnow()
    candidate = make_candidate(
        session,
        name="Zoë O'Brien",
        email_address="zoe.obrien@example.net",
        applied_at=now - dt.timedelta(days=2),
    )
    request = EmailRequest(
        candidate,
        EmailKind.UPDATE,
        new_idempotency_key(),
        now,
        candidate.position.manager,
        default_promise=True,
    )
    message = answers.queue_email(session, request, EmailConfig.from_app(app), settings_service.load(session))
    session.commit()
    assert run_worker(app, once=True).sent == 1
    session.expire_all()
    assert message.status == OutboxStatus.SENT
    return message


@pytest.fixture
def reading_mailbox(app, mailbox):
    """The app reads the test server's INBOX (plain IMAP on loopback)."""
    app.config.update(mailbox.settings("none"))
    return mailbox


def samples(message) -> dict[str, bytes]:
    values = {"token": message.reply_token or "0" * 32, "message_id": message.message_id}
    names = ("webmail_reply.eml", "out_of_office.eml", "stranger.eml")
    return {name: render(name, address=message.to_address, **values) for name in names}


def recorded(session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(sa.select(InboundMessage).order_by(InboundMessage.id)))


def follow_ups(session, candidate_id: int) -> int:
    query = sa.select(sa.func.count()).where(
        Event.candidate_id == candidate_id, Event.kind == EventKind.FOLLOWED_UP
    )
    return session.scalar(query.select_from(Event))


def imap_once(runner):
    return runner.invoke(args=["inbound", "imap", "--once"])


def test_inbound_imap_once_processes_each_message_once_across_two_runs(
    runner, session, reading_mailbox, sent_update
):
    mailbox, candidate_id = reading_mailbox, sent_update.candidate_id
    messages = samples(sent_update)
    for raw in messages.values():
        mailbox.append(raw)

    first = imap_once(runner)

    assert first.exit_code == 0, first.output
    assert "3 message(s) processed and moved to Processed" in first.output
    rows = recorded(session)
    assert [(r.kind, r.candidate_id, r.source) for r in rows] == [
        ("reply", candidate_id, "imap"),
        ("auto_reply", candidate_id, "imap"),
        ("reply", None, "imap"),
    ]
    assert all(r.imap_key.startswith("INBOX:") for r in rows)
    assert follow_ups(session, candidate_id) == 1  # the out-of-office counts for nothing
    assert mailbox.messages("INBOX") == [] and len(mailbox.messages("Processed")) == 3

    second = imap_once(runner)
    assert second.exit_code == 0, second.output
    assert "0 message(s) processed" in second.output
    assert len(recorded(session)) == 3

    # The same reply delivered once more: the same Message-ID, a new UID, a new Received line.
    again = (
        b"Received: from mx2.acme.example; Wed, 25 Nov 2026 09:30:00 +0000\r\n"
        + messages["webmail_reply.eml"]
    )
    mailbox.append(again)
    third = imap_once(runner)
    assert third.exit_code == 0, third.output
    assert "1 message(s) processed" in third.output
    assert len(recorded(session)) == 3 and follow_ups(session, candidate_id) == 1
    assert mailbox.messages("INBOX") == [] and len(mailbox.messages("Processed")) == 4


@pytest.mark.parametrize("security", ["starttls", "imaps"])
def test_inbound_imap_over_tls_trusts_the_configured_certificate_authority(
    app, runner, session, mailbox, sent_update, security
):
    app.config.update(mailbox.settings(security))
    mailbox.append(samples(sent_update)["stranger.eml"])

    result = imap_once(runner)

    assert result.exit_code == 0, result.output
    assert [r.sender for r in recorded(session)] == ["sam@leads.example"]


def test_a_message_past_the_size_limit_goes_to_the_failed_folder(app, runner, session, reading_mailbox):
    app.config["INBOUND_MAX_BYTES"] = 2048
    reading_mailbox.append(note(1) + b"x" * 5000 + b"\r\n")
    reading_mailbox.append(note(2))

    result = imap_once(runner)

    assert result.exit_code == 0, result.output
    assert "1 message(s) processed" in result.output
    assert "1 could not be read and were moved to Failed" in result.output
    assert [len(raw) > 5000 for raw in reading_mailbox.messages("Failed")] == [True]
    assert [r.subject for r in recorded(session)] == ["Note 2"]


def test_a_database_outage_leaves_the_messages_for_the_next_run(
    runner, session, reading_mailbox, monkeypatch
):
    from feedback_sla.inbound import service

    def database_down(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection to server refused"))

    for n in range(2):
        reading_mailbox.append(note(n))
    with monkeypatch.context() as patched:
        patched.setattr(service, "receive", database_down)
        down = imap_once(runner)

    assert down.exit_code == 1
    assert "2 message(s) were left in INBOX" in down.output and "connection to server refused" in down.output
    assert len(reading_mailbox.messages("INBOX")) == 2 and recorded(session) == []

    back = imap_once(runner)
    assert back.exit_code == 0, back.output
    assert len(recorded(session)) == 2 and reading_mailbox.messages("INBOX") == []


def test_a_wrong_password_exits_non_zero_naming_the_login(app, runner, mailbox):
    app.config.update(mailbox.settings("none", INBOUND_IMAP_PASSWORD="not the password"))

    result = imap_once(runner)

    assert result.exit_code == 1
    assert "refused the login of jobs@acme.example" in result.output
    assert "AUTHENTICATIONFAILED" in result.output


def test_a_server_that_cannot_be_reached_exits_non_zero_at_once(app, runner):
    port = free_port()  # nothing listens there
    app.config.update(
        INBOUND_IMAP_HOST="127.0.0.1",
        INBOUND_IMAP_PORT=port,
        INBOUND_IMAP_SECURITY="imaps",
        INBOUND_IMAP_USER="jobs@acme.example",
        INBOUND_IMAP_PASSWORD="secret",
    )
    started = time.monotonic()

    result = runner.invoke(args=["inbound", "imap"])  # a running poller too: the first poll must work

    assert result.exit_code == 1
    assert f"cannot reach the IMAP server 127.0.0.1:{port} (imaps)" in result.output
    assert time.monotonic() - started < 3


def test_missing_settings_are_named(runner):
    result = imap_once(runner)

    assert result.exit_code == 1
    assert "INBOUND_IMAP_HOST (FEEDBACK_SLA_INBOUND_IMAP_HOST): must be set" in result.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_running_poller_stops_cleanly_on_sigterm_and_ctrl_c(mailbox, database_uri, tmp_path, signum):
    environment = {
        **os.environ,
        **{f"FEEDBACK_SLA_{key}": str(value) for key, value in mailbox.settings("none").items()},
        "FEEDBACK_SLA_DATABASE_URL": database_uri,
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    }
    environment["FEEDBACK_SLA_INBOUND_IMAP_PASSWORD"] = json.dumps(mailbox.password)
    command = [sys.executable, "-m", "feedback_sla", "inbound", "imap"]
    with subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as poller:
        try:
            banner = poller.stdout.readline().decode()
            assert banner.startswith("reading INBOX on 127.0.0.1:"), banner + poller.stderr.read().decode()
            poller.send_signal(signum)
            assert poller.wait(10) == 0
        finally:
            if poller.poll() is None:
                poller.kill()
        out, err = poller.communicate()
    assert "0 message(s) processed" in out.decode()
    assert f"{signal.Signals(signum).name}: stopping after the current message" in err.decode()
