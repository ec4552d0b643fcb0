"""A loopback HTTP server standing in for Slack's Web API, a Slack response_url and a Teams
Workflows URL. It checks every body against the vendor's documented fields and answers as scripted
(200, 429 with Retry-After, 500, an ``ok: false`` error body), recording what it received.

The shapes it checks, from the vendors' own documentation:
- Slack chat.postMessage (docs.slack.dev/reference/methods/chat.postMessage): POST JSON with
  ``Authorization: Bearer xoxb-…``; ``channel`` (a member id opens the app's DM with them), ``text``
  (the notification and fallback), ``blocks``; answers ``{"ok": true, "channel": "D…", "ts": "…"}``,
  or ``{"ok": false, "error": "invalid_auth"}``; HTTP 429 with ``Retry-After`` when rate limited.
- Block Kit (docs.slack.dev/reference/block-kit): a ``section`` has ``text`` of type ``mrkdwn`` or
  ``plain_text``; an ``actions`` block's ``elements`` are buttons with ``type: button``, ``text`` of
  type ``plain_text``, an ``action_id``, and a ``value`` or a ``url``.
- users.lookupByEmail (docs.slack.dev/reference/methods/users.lookupByEmail): ``email``; answers
  ``{"ok": true, "user": {"id": "U…"}}`` or ``{"ok": false, "error": "users_not_found"}``.
- A response_url (docs.slack.dev/interactivity/handling-user-interaction): POST JSON with ``text``
  and ``replace_original: true`` and ``blocks``, or ``response_type: ephemeral``.
- A Teams Workflows webhook (learn.microsoft.com, Create incoming webhooks with Workflows for
  Microsoft Teams): ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <AdaptiveCard>}]}``; an
  Adaptive Card (adaptivecards.io) has ``type: AdaptiveCard``, ``version``, ``body``; an
  ``Action.OpenUrl`` has ``title`` and ``url``. The workflow answers 202 Accepted.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "xoxb-test-token"
OK = (200, {"ok": True}, {})


def _problems_of_blocks(blocks) -> list[str]:
    problems = []
    if not isinstance(blocks, list) or not blocks:
        return ["blocks: not a list of blocks"]
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            text = block.get("text") or {}
            if text.get("type") not in ("mrkdwn", "plain_text") or not isinstance(text.get("text"), str):
                problems.append(f"section without a text object: {block}")
        elif kind == "actions":
            for element in block.get("elements") or []:
                if element.get("type") != "button" or (element.get("text") or {}).get("type") != "plain_text":
                    problems.append(f"actions element is not a button: {element}")
                if not element.get("action_id") or not (element.get("value") or element.get("url")):
                    problems.append(f"button without action_id and a value or url: {element}")
        else:
            problems.append(f"unexpected block type {kind!r}")
    return problems


def _problems_of_card(body) -> list[str]:
    if body.get("type") != "message" or not isinstance(body.get("attachments"), list):
        return ["Teams: not a message with attachments"]
    (attachment,) = body["attachments"]
    problems = []
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("Teams: contentType is not application/vnd.microsoft.card.adaptive")
    if "contentUrl" not in attachment or attachment["contentUrl"] is not None:
        problems.append("Teams: contentUrl must be null")
    card = attachment.get("content") or {}
    if (
        card.get("type") != "AdaptiveCard"
        or not card.get("version")
        or not isinstance(card.get("body"), list)
    ):
        problems.append("Teams: content is not an AdaptiveCard with a version and a body")
    for action in card.get("actions") or []:
        if action.get("type") != "Action.OpenUrl" or not action.get("title") or not action.get("url"):
            problems.append(f"Teams: not an Action.OpenUrl with a title and url: {action}")
    return problems


class ChatServer:
    """The fake Slack and Teams; ``script(path, *answers)`` queues answers for a path."""

    def __init__(self, members: dict[str, str] | None = None) -> None:
        self.received: dict[str, list[dict]] = defaultdict(list)
        self.problems: list[str] = []
        self.members = dict(members or {})  # email -> member id, for users.lookupByEmail
        self._script: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 (http.server's name)
                server._handle(self, None)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                server._handle(self, self.rfile.read(length))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    @property
    def api(self) -> str:
        return self.url + "/api/"

    def start(self) -> ChatServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def script(self, path: str, *answers: tuple[int, object, dict]) -> None:
        with self._lock:
            self._script[path].extend(answers)

    def _answer(self, path: str, default):
        with self._lock:
            queue = self._script.get(path)
            return queue.popleft() if queue else default

    def _handle(self, handler, raw: bytes | None) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        query = parse_qs(parts.query)
        if raw and "json" in (handler.headers.get("Content-Type") or ""):
            body = json.loads(raw)
        else:  # a form (users.lookupByEmail's arguments, as slack_sdk posts them)
            body = {}
            query.update(parse_qs((raw or b"").decode()))
        record = {"body": body, "headers": dict(handler.headers), "query": query}
        with self._lock:
            self.received[path].append(record)
            self.problems.extend(self._check(path, record, handler))
        status, payload, headers = self._answer(path, self._default(path, record))
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        content_type = "application/json" if not isinstance(payload, bytes) else "text/plain"
        handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _default(self, path: str, record: dict):
        if path == "/api/chat.postMessage":
            channel = record["body"].get("channel")
            return 200, {"ok": True, "channel": "D" + str(channel)[1:], "ts": "1700000000.000100"}, {}
        if path == "/api/users.lookupByEmail":
            email = (record["query"].get("email") or [""])[0]
            member = self.members.get(email)
            if member is None:
                return 200, {"ok": False, "error": "users_not_found"}, {}
            return 200, {"ok": True, "user": {"id": member, "profile": {"email": email}}}, {}
        if path.startswith("/teams/"):
            return 202, b"", {}
        return 200, b"ok", {}

    def _check(self, path: str, record: dict, handler) -> list[str]:
        body = record["body"]
        if path.startswith("/api/"):
            if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
                return [f"{path}: no Bearer token"]
            if path == "/api/chat.postMessage":
                problems = (
                    []
                    if isinstance(body.get("channel"), str) and isinstance(body.get("text"), str)
                    else ["chat.postMessage: channel and text are required"]
                )
                return problems + _problems_of_blocks(body.get("blocks"))
            return []
        if path.startswith("/response/"):
            if not isinstance(body.get("text"), str):
                return ["response_url: text is required"]
            if body.get("replace_original") is True:
                return _problems_of_blocks(body.get("blocks"))
            return (
                []
                if body.get("response_type") == "ephemeral"
                else ["response_url: neither replace nor ephemeral"]
            )
        if path.startswith("/teams/"):
            return _problems_of_card(body)
        return [f"unexpected path {path}"]

    def posted(self, path: str = "/api/chat.postMessage") -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.received.get(path, [])]


# --- what the chat tests share ------------------------------------------------------------------

import datetime as dt  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from feedback_sla.chat import connection, delivery, nudges, preferences  # noqa: E402
from feedback_sla.chat.models import Channel, ChatMessage  # noqa: E402
from feedback_sla.database import db  # noqa: E402
from feedback_sla.settings import service as settings_service  # noqa: E402
from feedback_sla.waits import service  # noqa: E402
from feedback_sla.waits.clock import OrgSettings  # noqa: E402

BASE_URL = "https://feedback.example.com"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example secret
#: Opened on Monday 2 November 2026: five business days later, Monday 9 November at 18:00 in Berlin.
OPENED = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 11, 9, 17, tzinfo=dt.UTC)
#: Wednesday 11 November 2026, 10:00 in Berlin: the wait is overdue, not yet escalated.
OVERDUE_AT = dt.datetime(2026, 11, 11, 9, tzinfo=dt.UTC)


@contextmanager
def running_server() -> Iterator[ChatServer]:
    """The fake Slack and Teams on a free loopback port, stopped afterwards (each test module's
    ``chat_server`` fixture)."""
    server = ChatServer().start()
    try:
        yield server
    finally:
        server.stop()


def chat_app_config(app_config: dict, server: ChatServer) -> dict:
    app_config.update(
        BASE_URL=BASE_URL,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE=server.api,
        TEAMS_WEBHOOK_HOSTS="127.0.0.1",
        CHAT_TIMEOUT=5,
    )
    return app_config


def waiting(session, position, name="Ada Lovelace", email="ada@example.org", opened=OPENED):
    return service.add_candidate(session, position, name, email, opened, OrgSettings())


def choose(
    session, user, *, nudges_by=(Channel.SLACK,), digest_by=(), member="U0ADA", teams_url=None, **more
):
    """The user's chat choices, as My settings saves them, and their Slack link."""
    config = chat_config()
    now = OPENED
    if teams_url:
        preferences.set_teams_webhook(session, user, teams_url, config, now)
    choices = preferences.Choices(
        digest=list(digest_by),
        nudges=list(nudges_by),
        quiet_from=more.get("quiet_from"),
        quiet_until=more.get("quiet_until"),
        daily_cap=more.get("daily_cap", 20),
    )
    row = preferences.save_choices(session, user, choices, config, now)
    if member:
        preferences.link_slack(session, user, member, now)
    session.commit()
    return row


def chat_config():
    from flask import current_app

    return connection.load(db.session, current_app.config)


def nudge(session, now) -> nudges.NudgeReport:
    report = nudges.run_nudges(session, now, settings_service.load(session), chat_config())
    session.commit()
    return report


def deliver(session, now=None) -> delivery.ChatReport:
    clock = (lambda: now) if now is not None else delivery.utcnow
    return delivery.deliver_due(session, chat_config(), clock=clock)


def messages(session) -> list[ChatMessage]:
    session.expire_all()
    return list(session.scalars(db.select(ChatMessage).order_by(ChatMessage.id)))
