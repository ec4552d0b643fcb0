"""What the webhook tests share: the sample payloads, signing them as each vendor does, and a local
HTTP server answering as Lever's API.

tests/webhooks/vendor/<vendor>/<event>.json are each vendor's own examples, posted byte for byte
(``documented``); each test names the page it comes from:

- Greenhouse: the JSON examples of https://developers.greenhouse.io/webhooks.html, copied verbatim
  from its source, github.com/grnhse/greenhouse-api-docs ``source/includes/webhooks/
  _application_events.md`` (``new_candidate_application``) and ``_candidate_events.md`` (the rest).
- Ashby: Ashby documents an envelope example (https://developers.ashbyhq.com/docs/common-payload-data)
  and, per action, a schema with example values (https://developers.ashbyhq.com/reference/
  candidatehirewebhook and its siblings); the files are that envelope around the schema's fields
  and example values ("James", "test@ashbyhq.com", "First Designer", the "Offer" stage), ids made up
  where the schema gives none.
- Lever: https://hire.lever.co/developer/documentation, whose only example deliveries are the
  "Example delivery" of ``candidateStageChange`` (``lever/candidate_stage_change.txt``, verbatim: as
  published it is not valid JSON, a comma missing after ``toStageId`` and one too many after
  ``fromStageId``, which ``lever_documented_stage_change`` mends and nothing else) and the test
  request of the webhooks settings page (``lever/test_request.json``, ``candidateHired`` with empty
  data). For its other events the page folds each event's data fields away ("Show child fields"):
  ``candidate_hired``, ``candidate_archive_change`` and ``candidate_deleted`` are those documented
  fields around the ids of the example delivery. Lever's API answers are the page's examples,
  verbatim: ``opportunity`` (Retrieve a single opportunity), ``application`` (Retrieve a single
  application), ``stages`` (List all stages), ``posting`` (Retrieve a single posting), ``user``
  (Retrieve a single user), ``archive_reason`` and ``archive_reasons``. The page gives them
  unexpanded; ``lever_opportunity`` and ``lever_posting`` expand them as ``expand`` does, an id
  replaced by its documented object. The examples do not agree with one another (the opportunity
  is 250d8f03-..., its documented application belongs to 3410c8b9-..., the example delivery's
  opportunity; the application's posting is 6a1e4b79-..., the documented posting f2f01e16-...):
  each is served at the path the other names. Lever signs inside the body, so every Lever test
  sets ``triggeredAt`` to now and signs again (``lever_signed``).
- Workable (https://workable.readme.io/reference/webhook-subscriptions-candidates-employees and
  .../candidate-events): Workable documents the candidate events' fields in a table and publishes no
  example body; the files are those fields with our own values (``GROOV005`` is the job shortcode
  Workable's own examples use, e.g. https://workable.readme.io/docs/relocate-candidates).

The older samples in tests/webhooks (built from the same formats, with our own names) stay for the
tests that change one field at a time:

- ``greenhouse_new_candidate_application.json``, ``greenhouse_candidate_stage_change.json``,
  ``greenhouse_reject_candidate.json`` and ``greenhouse_ping.json`` (the ping Greenhouse sends when
  a webhook is created; Greenhouse documents no body for it);
- ``ashby_application_submit.json``, ``ashby_candidate_stage_change.json``;
- ``workable_candidate_created.json``, ``workable_candidate_moved.json``;
- ``lever_application_created.json`` (Lever publishes no ``applicationCreated`` example; the tests
  point it at the documented opportunity).
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
from feedback_sla.ats.models import Kind, Source

from .factories import UserFactory

SAMPLES = Path(__file__).parent / "webhooks"
VENDOR = SAMPLES / "vendor"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def documented(vendor: str, event: str) -> bytes:
    """The vendor's own example of ``event``, byte for byte, as the body to sign and post."""
    return (VENDOR / vendor / f"{event}.json").read_bytes()


def documented_json(vendor: str, event: str) -> dict:
    return json.loads(documented(vendor, event))


def lever_documented_stage_change() -> dict:
    """Lever's example delivery, its two misplaced commas mended (see above), nothing else."""
    text = (VENDOR / "lever" / "candidate_stage_change.txt").read_text()
    mended = text.replace('"\n    "fromStageId"', '",\n    "fromStageId"').replace('",\n  },', '"\n  },')
    return json.loads(mended)


def lever_stage(text: str) -> dict:
    """The stage of Lever's documented list (``GET /stages``) named ``text``."""
    (stage,) = [s for s in documented_json("lever", "stages")["data"] if s["text"] == text]
    return stage


def lever_opportunity(stage: str = "New applicant") -> dict:
    """Lever's documented opportunity as ``?expand=applications&expand=stage`` answers it: its
    application and stage ids replaced by Lever's documented application and stage."""
    opportunity = documented_json("lever", "opportunity")
    opportunity["data"]["applications"] = [documented_json("lever", "application")["data"]]
    opportunity["data"]["stage"] = lever_stage(stage)
    return opportunity


def lever_posting() -> dict:
    """Lever's documented posting as ``?expand=hiringManager`` answers it: the documented user."""
    posting = documented_json("lever", "posting")
    posting["data"]["hiringManager"] = documented_json("lever", "user")["data"]
    return posting


def connected(session, kind: Kind, secret: str, at: dt.datetime) -> Source:
    """A source of ``kind`` as an admin connects it, its jobs' default manager Dora Default."""
    dora = UserFactory(email="dora@example.com", name="Dora Default")
    session.commit()
    source = sources.create_source(session, sources.NewSource(kind, kind.value.title(), dora, secret), at)
    session.commit()
    return source


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
