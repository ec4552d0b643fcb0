"""Log records as JSON lines (``LOG_FORMAT=json``), for a log collector that reads one object a line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    traceback as text when there is one, so a multi-line trace stays one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class JsonLinesHandler(logging.StreamHandler):
    """Writes to the standard error of the moment (not the one at creation), so a redirected
    stream, a test's capture included, gets the lines."""

    def __init__(self, previous_level: int):
        super().__init__()
        self.previous_level = previous_level
        self.setFormatter(JsonFormatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass  # always the current standard error


def configure(log_format: str) -> bool:
    """Send every logger's records through the root logger as JSON lines when ``log_format`` is
    ``json``, at INFO and above; with ``text`` take back a JSON handler an earlier call installed.
    Returns whether JSON lines are on."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, JsonLinesHandler)]:
        root.removeHandler(handler)
        root.setLevel(handler.previous_level)
    if log_format != "json":
        return False
    root.addHandler(JsonLinesHandler(root.level))
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)  # the level the worker and the mailbox poller log at
    return True
