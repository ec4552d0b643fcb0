"""Tabular output for the CLI: aligned tables, CSV safe to open in a spreadsheet, JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """Prefix text a spreadsheet would run as a formula with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])


def write_json(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    json.dump([dict(zip(columns, row, strict=True)) for row in rows], out, indent=2, default=str)
    out.write("\n")


def write_table(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    text_rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text_rows]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in text_rows:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


WRITERS = {"table": write_table, "csv": write_csv, "json": write_json}
