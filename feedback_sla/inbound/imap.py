"""Reading replies from an IMAP mailbox: each message is processed once, then moved out of the folder.

A poll selects the folder, lists every message in it (a processed one has been moved away), fetches
each without marking it seen, hands the raw bytes to ``process`` with a key naming the folder, its
UIDVALIDITY and the message's UID, and moves the message to the done folder once ``process`` has
committed. A message that cannot be read goes to the failed folder, so it never blocks the ones
after it; when ``process`` raises ``TryLater`` (the database is down) the message and the rest stay
in place for the next poll. A crash between the commit and the move is harmless: processing is
idempotent by that key and by the Message-ID.

Only the standard library's imaplib talks to the server; nothing here touches the database.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from feedback_sla.inbound.imap_settings import ImapSettings

log = logging.getLogger(__name__)

#: Called with a message's raw bytes and its key; records it and commits, or raises.
Process = Callable[[bytes, str], object]


class ImapError(Exception):
    """The server could not be reached, refused the login, or failed a command; fit to show."""


class TryLater(Exception):
    """Processing cannot run now (the database is down): the message stays for the next poll."""


@dataclass
class PollReport:
    processed: int = 0
    failed: int = 0
    left: int = 0  # left in the folder because processing must be tried later
    reason: str = ""  # why they were left

    def __iadd__(self, other: PollReport) -> PollReport:
        self.processed += other.processed
        self.failed += other.failed
        self.left = other.left
        self.reason = other.reason
        return self

    def summary(self, settings: ImapSettings) -> str:
        text = f"{self.processed} message(s) processed and moved to {settings.done_folder}"
        if self.failed:
            text += f"; {self.failed} could not be read and were moved to {settings.failed_folder}"
        if self.left:
            text += f"; {self.left} left in {settings.folder} for the next poll: {self.reason}"
        return text


def poll_once(settings: ImapSettings, process: Process, *, stop: threading.Event | None = None) -> PollReport:
    """Process every message in the folder; ImapError when the server fails us."""
    report = PollReport()
    with connect(settings) as mailbox:
        uidvalidity = mailbox.select(settings.folder)
        mailbox.ensure_folder(settings.done_folder)
        uids = mailbox.uids()
        for position, uid in enumerate(uids):
            if stop is not None and stop.is_set():
                break
            raw = mailbox.fetch(uid)
            if raw is None:
                continue  # moved or deleted by another client since the search
            key = f"{settings.folder}:{uidvalidity}:{uid}"
            try:
                process(raw, key)
            except TryLater as exc:
                report.left, report.reason = len(uids) - position, str(exc)
                log.warning("inbound imap: %s left for the next poll: %s", key, exc)
                break
            except Exception:
                log.exception(
                    "inbound imap: %s could not be read; moving it to %s", key, settings.failed_folder
                )
                mailbox.ensure_folder(settings.failed_folder)
                mailbox.move(uid, settings.failed_folder)
                report.failed += 1
                continue
            mailbox.move(uid, settings.done_folder)
            report.processed += 1
            log.info("inbound imap: %s processed", key)
    return report


def run(settings: ImapSettings, process: Process, *, once: bool, stop: threading.Event) -> PollReport:
    """Poll every ``interval`` seconds until ``stop`` is set; ``once`` polls once.

    A failing first poll raises ImapError (a wrong host or password shows at once); a later one is
    logged and the next poll tries again.
    """
    total = PollReport()
    first = True
    while not stop.is_set():
        try:
            total += poll_once(settings, process, stop=stop)
        except ImapError as exc:
            if once or first:
                raise
            log.warning("inbound imap: %s; trying again in %g s", exc, settings.interval)
        first = False
        if once:
            break
        stop.wait(settings.interval)
    return total


@contextmanager
def connect(settings: ImapSettings):
    """A logged-in ``Mailbox``; every failure of the server becomes an ImapError naming it."""
    client = _open(settings)
    try:
        _login(client, settings)
        yield Mailbox(client, settings.server)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(f"the IMAP session with {settings.server} failed: {_words(exc)}") from exc
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            _close(client)


def _open(settings: ImapSettings) -> imaplib.IMAP4:
    context = None if settings.security == "none" else _tls_context(settings.ca_file)
    client = None
    try:
        if settings.security == "imaps":
            return imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=settings.timeout
            )
        client = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.starttls(context)
        return client
    except ssl.SSLError as exc:
        unverified = isinstance(exc, ssl.SSLCertVerificationError)
        hint = " (INBOUND_IMAP_CA_FILE names a certificate authority to trust)" if unverified else ""
        problem = f"TLS with the IMAP server {settings.server} failed: {_words(exc)}{hint}"
    except (OSError, imaplib.IMAP4.error) as exc:
        problem = f"cannot reach the IMAP server {settings.server}: {_words(exc)}"
    if client is not None:
        _close(client)
    raise ImapError(problem)


def _close(client: imaplib.IMAP4) -> None:
    try:
        client.shutdown()
    except OSError:
        pass  # already closed by the failure that brought us here


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Python's defaults (certificate and host name checked, TLS 1.2 or later), trusting
    ``ca_file`` instead of the system's authorities when it is set."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ImapError(
            f"INBOUND_IMAP_CA_FILE {ca_file}: no PEM certificate could be read ({_words(exc)})"
        ) from None


def _login(client: imaplib.IMAP4, settings: ImapSettings) -> None:
    user, password = settings.user, settings.password
    try:
        if (user + password).isascii():
            client.login(quoted(user), password)
        else:  # LOGIN takes ASCII only; SASL PLAIN carries UTF-8
            client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
    except imaplib.IMAP4.error as exc:
        raise ImapError(
            f"the IMAP server {settings.server} refused the login of {user}: {_words(exc)}"
        ) from None


def _words(exc: BaseException) -> str:
    """The server's or the system's own words, without the bytes' b'' wrapping."""
    text = str(exc) or type(exc).__name__
    return re.sub(r"^b'(.*)'$", r"\1", text)


def quoted(text: str) -> str:
    """An IMAP quoted string (RFC 3501): imaplib sends arguments as they are."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """The few IMAP commands a poll needs, on a logged-in client; a refusal raises ImapError."""

    def __init__(self, client: imaplib.IMAP4, server: str) -> None:
        self.client = client
        self.server = server
        self.capabilities = self._capabilities()
        self.known: set[str] = set()

    def _capabilities(self) -> frozenset[str]:
        """Asked again after login: servers announce MOVE and UIDPLUS only then."""
        data = self._ok("CAPABILITY", self.client.capability())
        words = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace").upper()
        return frozenset(words.split()) | {c.upper() for c in self.client.capabilities}

    def _ok(self, what: str, answer: tuple[str, list]) -> list:
        status, data = answer
        if status != "OK":
            words = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise ImapError(f"the IMAP server {self.server} refused {what}: {words}")
        return data

    def select(self, folder: str) -> int:
        """Open the folder for reading and writing; its UIDVALIDITY."""
        self._ok(f"to open the folder {folder}", self.client.select(quoted(folder)))
        _, data = self.client.response("UIDVALIDITY")
        if not data or data[0] is None:
            raise ImapError(f"the IMAP server {self.server} gave no UIDVALIDITY for {folder}")
        return int(data[0])

    def ensure_folder(self, folder: str) -> None:
        if folder in self.known:
            return
        listed = self._ok(f"to list the folder {folder}", self.client.list('""', quoted(folder)))
        if not any(listed):
            status, data = self.client.create(quoted(folder))
            if status != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if d).upper():
                self._ok(f"to create the folder {folder}", (status, data))  # another poller made it
            self.client.subscribe(quoted(folder))  # so mail programs show it
            log.info("inbound imap: created the folder %s", folder)
        self.known.add(folder)

    def uids(self) -> list[int]:
        data = self._ok("to search the folder", self.client.uid("SEARCH", "UNDELETED"))
        return sorted(int(uid) for uid in b" ".join(d for d in data if d).split())

    def fetch(self, uid: int) -> bytes | None:
        """The raw message, its unread flag untouched (the service refuses one past its size limit)."""
        data = self._ok(f"to fetch UID {uid}", self.client.uid("FETCH", str(uid), "(BODY.PEEK[])"))
        for item in data:
            if isinstance(item, tuple) and b"BODY[]" in item[0].upper():
                return bytes(item[1])
        return None

    def move(self, uid: int, folder: str) -> None:
        """UID MOVE (RFC 6851), or where the server lacks it: COPY, flag deleted, expunge."""
        what = f"to move UID {uid} to {folder}"
        if "MOVE" in self.capabilities:
            self._ok(what, self.client.uid("MOVE", str(uid), quoted(folder)))
            return
        self._ok(what, self.client.uid("COPY", str(uid), quoted(folder)))
        self._ok(what, self.client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"))
        if "UIDPLUS" in self.capabilities:
            self._ok(what, self.client.uid("EXPUNGE", str(uid)))
        else:  # plain EXPUNGE also removes what a mail program flagged deleted in this folder
            self._ok(what, self.client.expunge())
