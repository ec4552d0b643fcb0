"""What the webhook tests share: the sample payloads, signing them as each vendor does, and a local
HTTP server answering as Lever's API.

The samples in tests/webhooks are built from each vendor's documented format:

- ``greenhouse_new_candidate_application.json``: Greenhouse Harvest webhook "Candidate has submitted
  application" (action ``new_candidate_application``);
- ``greenhouse_candidate_stage_change.json``: "Candidate has changed stage" (``candidate_stage_change``);
- ``greenhouse_reject_candidate.json``: "Candidate or prospect rejected" (``reject_candidate``);
- ``greenhouse_ping.json``: the ping Greenhouse sends when a webhook is created (``ping``);
- ``greenhouse_delete_candidate.json``: "Candidate deleted" (``delete_candidate``);
- ``ashby_application_submit.json``: Ashby webhook ``applicationSubmit``;
- ``ashby_candidate_stage_change.json``: Ashby webhook ``candidateStageChange``;
- ``workable_candidate_created.json``: Workable subscription event ``candidate_created``;
- ``workable_candidate_moved.json``: Workable subscription event ``candidate_moved``;
- ``lever_application_created.json``: Lever webhook ``applicationCreated`` (ids only; ``triggeredAt``
  and ``signature`` are filled in when a test signs it);
- ``lever_candidate_stage_change.json``: Lever webhook ``candidateStageChange``;
- ``lever_opportunity.json`` and ``lever_posting.json``: Lever API answers to
  ``GET /opportunities/{id}?expand=applications&expand=stage`` and
  ``GET /postings/{id}?expand=hiringManager``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import func, select

from feedback_sla.ats import sources

SAMPLES = Path(__file__).parent / "webhooks"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def body_of(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def post(client, source, body: bytes, headers: dict | None = None):
    """POST ``body`` to the source's webhook URL, as JSON, with the vendor's signature headers."""
    return client.post(
        sources.webhook_path(source),
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def greenhouse_headers(secret: str, body: bytes, event_id: str = "e3b6a1f2-0001") -> dict:
    return {"Signature": f"sha256 {hex_hmac(secret, body)}", "Greenhouse-Event-ID": event_id}


def ashby_headers(secret: str, body: bytes) -> dict:
    return {"Ashby-Signature": f"sha256={hex_hmac(secret, body)}"}


def workable_headers(secret: str, body: bytes) -> dict:
    return {"X-Workable-Signature": hex_hmac(secret, body)}


def lever_signed(payload: dict, secret: str, at: dt.datetime | None = None) -> dict:
    """The Lever payload with ``triggeredAt`` (epoch milliseconds) and its ``signature``."""
    signed = copy.deepcopy(payload)
    at = at or dt.datetime.now(dt.UTC)
    signed["triggeredAt"] = int(at.timestamp() * 1000)
    signed["signature"] = hex_hmac(secret, f"{signed['token']}{signed['triggeredAt']}".encode())
    return signed


class LeverApi:
    """Lever's API on loopback: ``answers`` maps a path (without the query) to (status, JSON body);
    ``requests`` records the paths asked for, with their Authorization header."""

    def __init__(self):
        self.answers: dict[str, tuple[int, dict]] = {}
        self.requests: list[tuple[str, str | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.partition("?")[0]
                api.requests.append((self.path, self.headers.get("Authorization")))
                status, answer = api.answers.get(path, (404, {"code": "ResourceNotFound"}))
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LeverApi:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def answer(self, path: str, body: dict, status: int = 200) -> None:
        self.answers[f"/v1{path}"] = (status, body)
