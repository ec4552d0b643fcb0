"""CSV import of candidates: the whole file is validated before anything is written."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..accounts.models import User
from ..accounts.service import find_by_email, normalize_email
from ..errors import DomainError
from ..positions.models import Position
from ..positions.service import create_position, find_position
from ..settings.service import OrgSettings
from ..timeutil import parse_date, parse_instant
from . import service
from .models import PIPELINE

REQUIRED = ("name", "email", "position", "manager_email", "stage", "applied_at")
OPTIONAL = ("interview_at", "promised_by")
MAX_ROWS = 50_000


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class CsvImportError(DomainError):
    """Every problem found in the file; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class ImportRow:
    line: int
    name: str
    email: str
    position_title: str
    manager: User
    stage: str
    applied_at: dt.datetime
    interview_at: dt.datetime | None
    promised_by: dt.date | None


@dataclass
class ImportResult:
    candidates: int = 0
    positions_created: list[str] = field(default_factory=list)
    decision_waits: int = 0


def read_rows(
    session: Session, raw: bytes | str, *, only_manager: User | None = None
) -> list[ImportRow]:
    """Parse and validate a whole CSV file; CsvImportError lists every bad row and column.

    With ``only_manager`` (a manager importing in the browser) every row must name that manager.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvImportError(
                [RowError(1, None, f"the file is not UTF-8 text ({exc.reason})")]
            ) from None
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise CsvImportError([RowError(1, None, "the file is empty; expected a header row")])
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    errors = [RowError(1, c, "required column is missing") for c in missing]
    errors += [
        RowError(1, c, f"unknown column (expected {', '.join(REQUIRED + OPTIONAL)})")
        for c in unknown
    ]
    if errors:
        raise CsvImportError(errors)

    managers: dict[str, User | None] = {}
    positions: dict[tuple[str, int], Position | None] = {}
    seen: dict[tuple[str, str, str], int] = {}
    rows: list[ImportRow] = []
    for record in reader:
        line = reader.line_num
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, None, f"too many rows (at most {MAX_ROWS} per file)"))
            break
        if None in record:
            errors.append(RowError(line, None, f"more values than the {len(header)} columns"))
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue
        row_errors: list[RowError] = []

        def bad(column: str, message: str, _errors=row_errors, _line=line) -> None:
            _errors.append(RowError(_line, column, message))

        for column in REQUIRED:
            if not values.get(column):
                bad(column, "is empty")
        email = manager = None
        if values.get("email"):
            try:
                email = normalize_email(values["email"])
            except DomainError as exc:
                bad("email", str(exc))
        if values.get("manager_email"):
            key = values["manager_email"].lower()
            if only_manager is not None and key != only_manager.email.lower():
                bad("manager_email", f"must be your own email, {only_manager.email}")
            else:
                if key not in managers:
                    managers[key] = find_by_email(session, key)
                manager = managers[key]
                if manager is None:
                    bad("manager_email", f"no user with email {values['manager_email']}")
                elif not manager.active:
                    bad("manager_email", f"user {manager.email} is disabled")
        if values.get("stage") and values["stage"] not in PIPELINE:
            bad("stage", f"unknown stage {values['stage']!r}; stages: {', '.join(PIPELINE)}")

        time_zone = "UTC"
        if manager is not None and values.get("position"):
            pkey = (values["position"].lower(), manager.id)
            if pkey not in positions:
                positions[pkey] = find_position(session, values["position"], manager)
            existing = positions[pkey]
            time_zone = existing.time_zone if existing else manager.time_zone

        applied_at = interview_at = promised_by = None
        if values.get("applied_at"):
            try:
                applied_at = parse_instant(values["applied_at"], time_zone)
            except ValueError as exc:
                bad("applied_at", str(exc))
        if values.get("interview_at"):
            try:
                interview_at = parse_instant(values["interview_at"], time_zone)
            except ValueError as exc:
                bad("interview_at", str(exc))
            if applied_at and interview_at and interview_at < applied_at:
                bad("interview_at", "is before applied_at")
        if values.get("promised_by"):
            try:
                promised_by = parse_date(values["promised_by"])
            except ValueError as exc:
                bad("promised_by", str(exc))

        if email and manager and values.get("position"):
            dup_key = (values["position"].lower(), manager.email, email)
            if dup_key in seen:
                bad(
                    "email", f"duplicate candidate: same email and position as line {seen[dup_key]}"
                )
            else:
                seen[dup_key] = line
                if existing is not None and service.email_taken(session, existing.id, email):
                    bad("email", f"{email} is already a candidate for {existing.title}")
        if row_errors:
            errors.extend(row_errors)
            continue
        rows.append(
            ImportRow(
                line=line,
                name=values["name"],
                email=email,
                position_title=values["position"],
                manager=manager,
                stage=values["stage"],
                applied_at=applied_at,
                interview_at=interview_at,
                promised_by=promised_by,
            )
        )
    if errors:
        raise CsvImportError(errors)
    if not rows:
        raise CsvImportError([RowError(1, None, "the file has a header but no candidates")])
    return rows


def import_rows(
    session: Session, rows: list[ImportRow], settings: OrgSettings, actor: User | None = None
) -> ImportResult:
    """Write validated rows (the caller commits or rolls back as one transaction)."""
    result = ImportResult()
    positions: dict[tuple[str, int], Position] = {}
    for row in rows:
        key = (row.position_title.lower(), row.manager.id)
        if key not in positions:
            position = find_position(session, row.position_title, row.manager)
            if position is None:
                position = create_position(session, row.position_title, row.manager)
                result.positions_created.append(position.title)
            positions[key] = position
        position = positions[key]
        candidate = service.add_candidate(
            session, position, row.name, row.email, row.applied_at, settings, actor, stage=row.stage
        )
        wait = service.open_wait_of(session, candidate)
        if row.interview_at is not None:
            wait = service.interview_held(session, candidate, row.interview_at, settings, actor)
            result.decision_waits += 1
        if row.promised_by is not None:
            wait.promised_date = row.promised_by
            service.recompute(wait, position, settings)
        result.candidates += 1
    return result
