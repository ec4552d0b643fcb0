"""Lever webhooks: ``{"id", "event", "triggeredAt", "token", "signature", "data": {...}}``, as Lever
documents them (https://hire.lever.co/developer/documentation#webhooks).

They carry ids only; the details come from Lever's API (``LEVER_API_BASE``, basic auth with the
source's API key): ``GET /opportunities/{id}?expand=applications&expand=stage`` and ``GET
/postings/{id}?expand=hiringManager`` (a posting read once per ten minutes), each answering
``{"data": {...}}``.

Events read: ``applicationCreated``, ``candidateStageChange``, ``candidateArchiveChange`` (archived
with a reason, read from ``GET /archive_reasons/{id}``: a reason of type "hired" is a hire; any
other rejects, or is a withdrawal when its text says the candidate withdrew; at ``archivedAt``),
``candidateHired`` and ``candidateDeleted`` (the opportunity deleted: its candidate is erased
here). A delivery is known by its ``id`` (its ``token`` when there is none). The request Lever
sends from its webhooks settings page to test the URL is a ``candidateHired`` with empty data: it
names no opportunity, and is ignored.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from feedback_sla.ats import events as ev
from feedback_sla.ats.events import field, first_time, ident, parse_time

DEFAULT_API_BASE = "https://api.lever.co/v1"


@dataclass(frozen=True)
class LeverApi:
    """Lever's API for one source."""

    base: str
    key: str
    timeout: float = 10

    def get(self, path: str, params: list[tuple[str, str]] = ()) -> dict:
        url = f"{self.base.rstrip('/')}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        credentials = base64.b64encode(f"{self.key}:".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (the base is the operator's https URL)
            url, headers={"Authorization": f"Basic {credentials}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise ev.PayloadError(f"Lever API: {path} not found") from None
            raise ev.Unavailable(f"Lever API answered {exc.code} for {path}") from None
        except (OSError, ValueError) as exc:
            raise ev.Unavailable(f"Lever API unreachable for {path}: {exc}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
            raise ev.Unavailable(f"Lever API: {path} answered no data")
        return answer["data"]


def identify(payload: dict, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    return str(payload.get("id") or payload.get("token") or ""), str(payload.get("event") or "")


def read(payload: dict, received_at: dt.datetime, api: LeverApi) -> tuple[ev.AtsEvent, ...]:
    reader = _READERS.get(str(payload.get("event") or ""))
    if reader is None:
        return ()
    if payload.get("data") == {}:  # Lever's test request: the URL and the signature work
        return ()
    data = payload.get("data") or {}
    at = parse_time(payload.get("triggeredAt"), "triggeredAt")
    return tuple(reader(data, at, api))


def _opportunity(api: LeverApi, opportunity_id: str) -> dict:
    path = f"/opportunities/{urllib.parse.quote(opportunity_id, safe='')}"
    return api.get(path, [("expand", "applications"), ("expand", "stage")])


class _Postings:
    """Postings read lately, by API and id: a burst of applications to one posting (an import, a
    job fair) reads it once. Its title and hiring manager only name a position the first time, so
    a few minutes' staleness changes nothing."""

    def __init__(self, seconds: float = 600, size: int = 512):
        self.seconds, self.size = seconds, size
        self._kept: dict[tuple[str, str, str], tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def get(self, api: LeverApi, posting_id: str) -> dict:
        key, now = (api.base, api.key, posting_id), time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        path = f"/postings/{urllib.parse.quote(posting_id, safe='')}"
        posting = api.get(path, [("expand", "hiringManager")])
        with self._lock:
            if len(self._kept) >= self.size:
                self._kept.clear()
            self._kept[key] = (now, posting)
        return posting


POSTINGS = _Postings()


def _created(data: dict, at, api: LeverApi):
    opportunity_id = ident(data, "opportunityId")
    opportunity = _opportunity(api, opportunity_id)
    applications = opportunity.get("applications") or []
    if not applications or not isinstance(applications[0], dict):
        raise ev.PayloadError("opportunity.applications: none")
    posting_id = ident(applications[0], "posting")
    posting = POSTINGS.get(api, posting_id)
    emails = opportunity.get("emails") or []
    if not emails:
        raise ev.PayloadError("opportunity.emails: none")
    yield ev.NewApplication(
        application_id=opportunity_id,
        candidate_id=str(opportunity.get("contact") or opportunity_id),
        name=str(opportunity.get("name") or ""),
        email=str(emails[0]),
        job_id=posting_id,
        job_title=str(posting.get("text") or f"Lever posting {posting_id}"),
        manager_email=field(posting, "hiringManager", "email", required=False),
        applied_at=parse_time(applications[0].get("createdAt") or opportunity.get("createdAt"), "createdAt"),
        stage_name=field(opportunity, "stage", "text", required=False),
    )


def _stage_change(data: dict, at, api: LeverApi):
    opportunity_id = ident(data, "opportunityId")
    opportunity = _opportunity(api, opportunity_id)
    yield ev.StageChanged(opportunity_id, str(field(opportunity, "stage", "text")), at)


def _archived(data: dict, at, api: LeverApi):
    if not data.get("toArchived"):
        return
    opportunity_id = ident(data, "opportunityId")
    at = first_time(data, "toArchived.archivedAt", default=at)
    reason_id = field(data, "toArchived", "reason", required=False)
    reason: dict = {}
    if reason_id:
        reason = api.get(f"/archive_reasons/{urllib.parse.quote(str(reason_id), safe='')}")
    if reason.get("type") == "hired":
        yield ev.Hired(opportunity_id, at)
    elif "withdr" in str(reason.get("text") or "").lower():
        yield ev.Withdrawn(opportunity_id, at)
    else:
        yield ev.Rejected(opportunity_id, at)


def _hired(data: dict, at, api: LeverApi):
    yield ev.Hired(ident(data, "opportunityId"), at)


def _deleted(data: dict, at, api: LeverApi):
    """Lever deletes an opportunity; the contact's other opportunities, if any, stay."""
    yield ev.Erased(application_ids=(ident(data, "opportunityId"),))


_READERS = {
    "applicationCreated": _created,
    "candidateStageChange": _stage_change,
    "candidateArchiveChange": _archived,
    "candidateHired": _hired,
    "candidateDeleted": _deleted,
}
