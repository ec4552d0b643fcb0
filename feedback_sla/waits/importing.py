"""Writing a checked CSV file of candidates through the wait's door, row by row."""

from __future__ import annotations

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.importer import CsvImportError, ImportResult, ImportRow, RowError
from feedback_sla.errors import DomainError
from feedback_sla.positions import service as positions
from feedback_sla.positions.models import Position
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.service import add_candidate, interview_held, set_promise


def import_rows(
    session: Session, rows: list[ImportRow], settings: OrgSettings, actor: User | None = None
) -> ImportResult:
    """Write the rows of a checked CSV file, each through the same steps as the browser.

    A row with an interview time records the interview (a decision is owed); one with a promised
    date records the promise on the timeline. The caller commits or rolls back the whole file.
    """
    result = ImportResult()
    found: dict[tuple[str, int], Position] = {}
    for row in rows:
        key = (row.position_title.lower(), row.manager.id)
        if key not in found:
            position = positions.find_position(session, row.position_title, row.manager)
            if position is None:
                position = positions.create_position(session, row.position_title, row.manager)
                result.positions_created.append(position.title)
            found[key] = position
        try:
            candidate = add_candidate(
                session,
                found[key],
                row.name,
                row.email,
                row.applied_at,
                settings,
                actor,
                stage=row.stage,
                time_zone=row.time_zone,
                language=row.language,
            )
        except candidates.DuplicateCandidate as exc:  # added meanwhile, by someone else
            raise CsvImportError([RowError(row.line, "email", str(exc))]) from None
        if row.interview_at is not None:
            interview_held(session, candidate, row.interview_at, settings, actor)
            result.decision_waits += 1
        if row.promised_by is not None:
            promised_at = row.interview_at or row.applied_at
            try:
                set_promise(session, candidate, row.promised_by, promised_at, settings, actor)
            except DomainError as exc:
                raise CsvImportError([RowError(row.line, "promised_by", str(exc))]) from None
        result.candidates += 1
    return result
