"""A large export written by several processes at once, then joined in order.

The waits are split into ranges of wait ids, one per process. This process writes the first range
straight to the destination while forked processes write the others to files of their own; each
file is appended in turn once this process is done, so the rows come out in ascending wait id as
from one process. CSV and NDJSON only: a JSON array is one value and is written whole.

Each process reads the database through its own connection; connections are closed before the
fork, none is shared. A process that fails leaves its message for this one, which stops the others
and raises it: nothing partial reaches a file written with ``--output``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import os
import shutil
import signal
import tempfile
import traceback
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.errors import DomainError
from feedback_sla.reports.export import LINE_FORMATS, ExportFilters, write_export
from feedback_sla.waits import clock
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait

#: With ``jobs`` left to the export: how many waits (by their span of ids) make splitting worth
#: starting processes, and the most processes it starts.
AUTOMATIC_FROM = 50_000
AUTOMATIC_MOST = 4


def can_split(fmt: str) -> bool:
    return fmt in LINE_FORMATS and hasattr(os, "fork")


def job_count(requested: int | None, fmt: str, span: int) -> int:
    """Processes for an export whose wait ids span ``span``: ``requested``, or one per CPU for a
    large one (at most ``AUTOMATIC_MOST``); always one where the format or platform cannot split."""
    if not can_split(fmt) or span <= 1:
        return 1
    if requested is not None:
        return max(1, min(requested, span))
    if span < AUTOMATIC_FROM:
        return 1
    return max(1, min(_usable_cpus(), AUTOMATIC_MOST))


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def id_ranges(first: int, last: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive ranges covering ``first`` to ``last``, as even as whole ids allow."""
    span = last - first + 1
    bounds = [first + span * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(parts)]


def write_export_in_parts(
    out: TextIO,
    fmt: str,
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: ExportFilters,
    *,
    pii: bool = True,
    jobs: int | None = None,
) -> int:
    """``write_export`` by ``jobs`` processes (None: as ``job_count`` decides); returns how many."""
    first, last = session.execute(select(func.min(Wait.id), func.max(Wait.id))).one()
    count = 1 if first is None else job_count(jobs, fmt, last - first + 1)
    if count == 1:
        write_export(out, fmt, session, now, settings, filters, pii=pii)
        return 1
    ranges = id_ranges(first, last, count)
    # Loaded once here, the holiday rules are shared by every process instead of loaded by each.
    clock.holiday_calendar(settings.holiday_calendar)
    # No connection may cross the fork: each process opens its own.
    engine = session.get_bind()
    session.rollback()
    engine.dispose()
    out.flush()
    # What exists now is shared with the processes about to start; kept out of the collector's
    # scans, its pages stay shared instead of being copied into each process.
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="feedback-sla-export-") as folder:
        children: list[tuple[int, Path]] = []
        try:
            for number, ids in enumerate(ranges[1:], start=1):
                part = Path(folder) / f"part-{number}"
                part_filters = dataclasses.replace(filters, wait_ids=ids)
                pid = os.fork()
                if pid == 0:  # pragma: no cover - runs in the child, which leaves through os._exit
                    _write_part(part, fmt, session, now, settings, part_filters, pii)
                children.append((pid, part))
            part_filters = dataclasses.replace(filters, wait_ids=ranges[0])
            write_export(out, fmt, session, now, settings, part_filters, pii=pii)
            while children:
                pid, part = children[0]
                _wait_for(pid, part)
                children.pop(0)
                with part.open(encoding="utf-8", newline="") as written:
                    shutil.copyfileobj(written, out, 1 << 20)
        finally:
            for pid, _ in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
    return count


def _write_part(
    part: Path,
    fmt: str,
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: ExportFilters,
    pii: bool,
) -> None:
    """In the forked process: write one part, or its error next to it, and leave at once."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops every process at once
        with part.open("w", encoding="utf-8", newline="") as out:
            write_export(out, fmt, session, now, settings, filters, pii=pii, header=False)
        status = 0
    except DomainError as exc:
        part.with_suffix(".error").write_text(str(exc), encoding="utf-8")
    except BaseException:
        part.with_suffix(".crash").write_text(traceback.format_exc(), encoding="utf-8")
    finally:
        # Nothing of the parent's may run here: no exit handlers, no cleanup of its context.
        os._exit(status)


def _wait_for(pid: int, part: Path) -> None:
    """Return once the process has written its part; raise what stopped it otherwise."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return
    error, crash = part.with_suffix(".error"), part.with_suffix(".crash")
    if error.exists():
        raise DomainError(error.read_text(encoding="utf-8").strip())
    if crash.exists():
        raise RuntimeError(f"a process writing part of the export failed:\n{crash.read_text()}")
    raise RuntimeError(f"a process writing part of the export stopped (exit status {code})")
