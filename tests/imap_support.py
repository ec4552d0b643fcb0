"""A real IMAP server for the tests: Debian's Dovecot on loopback with a private configuration.

One server per test module, on two free ports of 127.0.0.1: plain IMAP (which also offers
STARTTLS) and IMAPS, with a self-signed certificate made by openssl for the run. One passwd-file
user; its maildir, the configuration, the logs and the sockets live in a temporary folder removed
afterwards. Outside CI, without Dovecot, the tests skip with the reason; in CI (CI=true) a missing
Dovecot is a failure.

Run as root, Dovecot refuses to run its login and mail processes as root: they run as the unprivileged
``dovenull`` (login) and ``nobody`` (mail, owning the maildir). Run as anyone else, everything runs as
that user.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .emails_support import free_port

DOVECOT = os.environ.get("FEEDBACK_SLA_TEST_DOVECOT", "/usr/sbin/dovecot")
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
IN_CI = os.environ.get("CI", "").lower() == "true"
USER = "jobs@acme.example"
PASSWORD = "mailbox-pässword 1"  # non-ASCII: the poller logs in by SASL PLAIN, not LOGIN
#: A second mailbox, with an ASCII password: the poller logs in by LOGIN.
ASCII_USER, ASCII_PASSWORD = "reader@acme.example", "plain ascii password"
MAIL_DIR = Path(__file__).resolve().parent / "mail"
START_SECONDS = 15


def dovecot_or_skip() -> None:
    missing = None
    if not os.access(DOVECOT, os.X_OK):
        missing = f"no Dovecot at {DOVECOT} (apt-get install dovecot-imapd)"
    elif not os.access(OPENSSL, os.X_OK):
        missing = "no openssl to make the test certificate (apt-get install openssl)"
    if missing:
        if IN_CI:
            pytest.fail(f"IMAP test cannot run in CI: {missing}")
        pytest.skip(missing)


@dataclass
class Dovecot:
    folder: Path
    plain_port: int
    imaps_port: int
    ca_file: str
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    def settings(self, security: str = "none", **overrides) -> dict:
        """App settings that read this server's INBOX."""
        port = self.imaps_port if security == "imaps" else self.plain_port
        return {
            "INBOUND_IMAP_HOST": self.host,
            "INBOUND_IMAP_PORT": port,
            "INBOUND_IMAP_SECURITY": security,
            "INBOUND_IMAP_USER": self.user,
            "INBOUND_IMAP_PASSWORD": self.password,
            "INBOUND_IMAP_CA_FILE": self.ca_file,
            "INBOUND_IMAP_TIMEOUT": 10,
            **overrides,
        }

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.plain_port, timeout=10)
        client.authenticate("PLAIN", lambda _: f"\0{self.user}\0{self.password}".encode())
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver a message as a mail program would; its new UID."""
        with _session(self) as client:
            status, data = client.append(folder, None, None, raw)
            assert status == "OK", data
            return int(data[0].split(b"]")[0].split()[-1])  # [APPENDUID <validity> <uid>]

    def messages(self, folder: str) -> list[bytes]:
        """The raw messages in ``folder``, oldest first; [] when the folder does not exist."""
        with _session(self) as client:
            status, _ = client.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("SEARCH", "ALL")
            found = []
            for uid in data[0].split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                found.append(parts[0][1])
            return found

    def flags(self, folder: str) -> list[bytes]:
        """Each message's FLAGS answer in ``folder``, oldest first."""
        with _session(self) as client:
            _, [count] = client.select(f'"{folder}"', readonly=True)
            if not int(count):
                return []
            _, data = client.uid("FETCH", "1:*", "(FLAGS)")
            return [item for item in data if item]

    def empty(self) -> None:
        """Every folder but INBOX deleted, INBOX emptied: each test starts from a fresh mailbox."""
        with _session(self) as client:
            _, listed = client.list()
            for line in listed or []:
                name = line.decode().rsplit(" ", 1)[-1].strip('"')
                if name != "INBOX":
                    client.delete(f'"{name}"')
            _, [count] = client.select("INBOX")
            if int(count):
                client.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                client.expunge()


class _session:
    def __init__(self, server: Dovecot) -> None:
        self.server = server

    def __enter__(self) -> imaplib.IMAP4:
        self.client = self.server.client()
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.logout()


def start_dovecot() -> Dovecot:
    folder = Path(tempfile.mkdtemp(prefix="feedback-sla-dovecot-"))
    server = Dovecot(folder, free_port(), free_port(), str(folder / "cert.pem"))
    _certificate(folder)
    users = f"{USER}:{{PLAIN}}{PASSWORD}\n{ASCII_USER}:{{PLAIN}}{ASCII_PASSWORD}\n"
    (folder / "users").write_text(users, encoding="utf-8")
    (folder / "dovecot.conf").write_text(_configuration(server), encoding="utf-8")
    server.process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(folder / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    _wait_until_listening(server)
    return server


def stop_dovecot(server: Dovecot) -> None:
    if server.process is not None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.folder, ignore_errors=True)


def _certificate(folder: Path) -> None:
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        + ["-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )


def _accounts(folder: Path) -> tuple[str, str, int, int]:
    """The internal and login users, and the uid and gid that own the mail."""
    me = pwd.getpwuid(os.getuid())
    if me.pw_uid != 0:
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    mail_owner = pwd.getpwnam("nobody")
    login = "dovenull" if _has_user("dovenull") else "nobody"
    # Root runs the master and the authentication; the mail processes (nobody) must reach the maildir.
    folder.chmod(0o711)
    (folder / "mail").mkdir()
    os.chown(folder / "mail", mail_owner.pw_uid, mail_owner.pw_gid)
    return "root", login, mail_owner.pw_uid, mail_owner.pw_gid


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _configuration(server: Dovecot) -> str:
    folder = server.folder
    internal, login, uid, gid = _accounts(folder)
    (folder / "mail").mkdir(exist_ok=True)
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{folder}/mail/%u
mail_fsync = never
passdb {{
  driver = passwd-file
  args = {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


def _wait_until_listening(server: Dovecot) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        if all(_listening(server.host, port) for port in (server.plain_port, server.imaps_port)):
            return
        time.sleep(0.05)
    log = server.folder / "dovecot.log"
    words = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    stop_dovecot(server)
    pytest.fail(f"Dovecot did not start on {server.plain_port} and {server.imaps_port}:\n{words}")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def render(name: str, **values: str) -> bytes:
    """A sample message of tests/mail with its placeholders filled in, lines ending in CRLF."""
    text = (MAIL_DIR / name).read_text(encoding="utf-8").format(**values)
    return "\r\n".join(text.splitlines()).encode("utf-8") + b"\r\n"
