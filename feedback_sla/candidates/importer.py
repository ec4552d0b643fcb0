"""Reading a CSV file of candidates: the whole file is checked before anything is written.

``waits.importing.import_rows`` writes the rows it returns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import find_by_email, no_user_with
from feedback_sla.addresses import MAX_ADDRESS, InvalidAddress, comparable_address, normalize_address
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.candidates.service import MAX_NAME, check_applied_at, email_taken
from feedback_sla.errors import DomainError
from feedback_sla.languages import SHIPPED
from feedback_sla.languages import check as check_language
from feedback_sla.positions.models import Position
from feedback_sla.positions.service import MAX_TITLE, find_position
from feedback_sla.text import clean_line
from feedback_sla.timeutil import is_time_zone, local_date, parse_date, parse_instant

REQUIRED = ("name", "email", "position", "manager_email", "stage", "applied_at")
OPTIONAL = ("interview_at", "promised_by", "time_zone", "language")
MAX_ROWS = 50_000
#: The free-text columns and their longest values, as the tables hold them (``email`` goes through
#: the address rule, which checks the same).
_ONE_LINE = {"name": MAX_NAME, "position": MAX_TITLE, "manager_email": MAX_ADDRESS}


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
    #: Where the candidate lives, when the file says (an IANA name); else the position's is used.
    time_zone: str | None = None
    #: The language to write to them in, when the file says; else the organisation's default.
    language: str | None = None


@dataclass
class ImportResult:
    candidates: int = 0
    positions_created: list[str] = field(default_factory=list)
    decision_waits: int = 0


def read_rows(
    session: Session,
    raw: bytes | str,
    now: dt.datetime,
    *,
    only_manager: User | None = None,
    languages: Sequence[str] = SHIPPED,
) -> list[ImportRow]:
    """Parse and validate a whole CSV file; CsvImportError lists every bad row and column.

    With ``only_manager`` (a manager importing in the browser) every row must name that manager.
    A ``language`` must be one of ``languages`` (the organisation's).
    """
    reader = _reader(raw)
    parser = _RowParser(session, now, only_manager, languages)
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for line, record in _records(reader, errors):
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, None, f"too many rows (at most {MAX_ROWS} per file)"))
            break
        if None in record:
            errors.append(RowError(line, None, f"more values than the {len(reader.fieldnames)} columns"))
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue
        row, row_errors = parser.parse(line, values)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    if errors:
        raise CsvImportError(errors)
    if not rows:
        raise CsvImportError([RowError(1, None, "the file has a header but no candidates")])
    return rows


def _records(reader: csv.DictReader, errors: list[RowError]):
    """(line, record) pairs; a line the csv module cannot read (a field past its 128 KB limit, a
    stray NUL) ends the file with that line's error."""
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module counts the line it failed in only once it is read whole.
            errors.append(RowError(reader.line_num + 1, None, f"cannot be read as CSV ({exc})"))
            return
        yield reader.line_num, record


def _reader(raw: bytes | str) -> csv.DictReader:
    """A reader over the decoded file whose header has been checked: every required column, no
    unknown one."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvImportError([RowError(1, None, f"the file is not UTF-8 text ({exc.reason})")]) from None
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise CsvImportError([RowError(1, None, "the file is empty; expected a header row")])
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    repeated = sorted({c for c in header if header.count(c) > 1}, key=header.index)
    errors = [RowError(1, c, "required column is missing") for c in missing]
    errors += [RowError(1, c, f"column appears {header.count(c)} times; keep one") for c in repeated]
    errors += [RowError(1, c, f"unknown column (expected {', '.join(REQUIRED + OPTIONAL)})") for c in unknown]
    if errors:
        raise CsvImportError(errors)
    return reader


class _RowParser:
    """Checks one row at a time, remembering the managers, positions and addresses seen so far."""

    def __init__(
        self, session: Session, now: dt.datetime, only_manager: User | None, languages: Sequence[str]
    ):
        self.session, self.now, self.only_manager = session, now, only_manager
        self.languages = languages
        self.managers: dict[str, User | None] = {}
        self.positions: dict[tuple[str, int], Position | None] = {}
        self.seen: dict[tuple[str, str, str], int] = {}

    def parse(self, line: int, values: dict[str, str]) -> tuple[ImportRow | None, list[RowError]]:
        errors: list[RowError] = []

        def bad(column: str, message: str) -> None:
            errors.append(RowError(line, column, message))

        for column in REQUIRED:
            if not values.get(column):
                bad(column, "is empty")
        for column, limit in _ONE_LINE.items():
            if values.get(column):
                try:
                    values[column] = clean_line(values[column], column, limit)
                except DomainError as exc:
                    bad(column, str(exc).removeprefix(f"{column}: "))
                    values[column] = ""  # never looked up: a database may refuse it outright
        email = self._email(values, bad)
        manager = self._manager(values, bad)
        if values.get("stage") and values["stage"] not in PIPELINE:
            bad("stage", f"unknown stage {values['stage']!r}; stages: {', '.join(PIPELINE)}")
        existing = self._position(values, manager)
        time_zone = existing.time_zone if existing else manager.time_zone if manager else "UTC"
        applied_at, interview_at, promised_by = self._dates(values, time_zone, bad)
        candidate_zone = self._candidate_zone(values, bad)
        language = self._language(values, bad)
        if email and manager and values.get("position"):
            self._check_duplicate(line, values["position"], manager, email, existing, bad)
        if errors:
            return None, errors
        row = ImportRow(
            line=line,
            name=values["name"],
            email=email,
            position_title=values["position"],
            manager=manager,
            stage=values["stage"],
            applied_at=applied_at,
            interview_at=interview_at,
            promised_by=promised_by,
            time_zone=candidate_zone,
            language=language,
        )
        return row, errors

    def _email(self, values, bad) -> str | None:
        if not values.get("email"):
            return None
        try:
            return normalize_address(values["email"], "email")
        except InvalidAddress as exc:
            bad("email", exc.reason)
            return None

    def _manager(self, values, bad) -> User | None:
        if not values.get("manager_email"):
            return None
        key = comparable_address(values["manager_email"])
        if self.only_manager is not None and key != self.only_manager.email.lower():
            bad("manager_email", f"must be your own email, {self.only_manager.email}")
            return None
        if key not in self.managers:
            self.managers[key] = find_by_email(self.session, key)
        manager = self.managers[key]
        if manager is None:
            bad("manager_email", no_user_with(values["manager_email"]))
        elif not manager.active:
            bad("manager_email", f"user {manager.email} is disabled")
        return manager

    def _position(self, values, manager: User | None) -> Position | None:
        if manager is None or not values.get("position"):
            return None
        key = (values["position"].lower(), manager.id)
        if key not in self.positions:
            self.positions[key] = find_position(self.session, values["position"], manager)
        return self.positions[key]

    @staticmethod
    def _candidate_zone(values, bad) -> str | None:
        """The optional ``time_zone`` column: where the candidate lives (an IANA name)."""
        named = values.get("time_zone")
        if named and not is_time_zone(named):
            bad("time_zone", f"unknown time zone {named!r} (an IANA name such as Europe/Berlin)")
        return named or None

    def _language(self, values, bad) -> str | None:
        """The optional ``language`` column: a BCP 47 tag of the organisation's languages."""
        tag = values.get("language")
        if not tag:
            return None
        try:
            return check_language(tag, self.languages)
        except ValueError as exc:
            bad("language", str(exc))
            return None

    def _dates(self, values, time_zone: str, bad):
        applied_at = interview_at = promised_by = None
        if values.get("applied_at"):
            try:
                applied_at = parse_instant(values["applied_at"], time_zone)
                check_applied_at(applied_at, self.now)
            except (ValueError, DomainError) as exc:
                bad("applied_at", str(exc).removeprefix("applied at: "))
                applied_at = None
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
            promised_at = interview_at or applied_at
            if promised_by and promised_at and promised_by < local_date(promised_at, time_zone):
                bad("promised_by", f"is before {'interview_at' if interview_at else 'applied_at'}")
        return applied_at, interview_at, promised_by

    def _check_duplicate(self, line, title, manager, email, existing, bad) -> None:
        key = (title.lower(), manager.email, email)
        if key in self.seen:
            bad("email", f"duplicate candidate: same email and position as line {self.seen[key]}")
            return
        self.seen[key] = line
        if existing is not None and email_taken(self.session, existing.id, email):
            bad("email", f"{email} is already a candidate for {existing.title}")
