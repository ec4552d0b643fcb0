"""What a setting is (``Definition``), the small parsers several settings share, and the settings
of the candidate's own voice: the survey after the decision and "Download my data"."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from feedback_sla.numbers import whole_number


@dataclass(frozen=True)
class Definition:
    key: str
    default: str
    parse: Callable[[str], object]
    help: str
    #: The configuration key whose value is the default, when the configuration gives it.
    config_key: str | None = None


def _positive_int(low: int, high: int) -> Callable[[str], int]:
    return functools.partial(whole_number, low=low, high=high)


def _switch(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{text!r} is neither on nor off")
    return value == "on"


def _days_or_off(text: str) -> int | None:
    """A number of days, or nothing (empty or "off") for a rule that is off."""
    if text.strip().lower() in ("", "off"):
        return None
    return whole_number(text, low=1, high=3650)


#: The smallest group whose survey answers are ever shown: fewer would let a manager guess who wrote.
FLOOR_AT_LEAST = 3


def _floor(text: str) -> int:
    value = whole_number(text, low=0, high=10_000)
    if value < FLOOR_AT_LEAST:
        raise ValueError(
            f"{value} is below {FLOOR_AT_LEAST}: the survey's answers are never shown for groups "
            f"smaller than {FLOOR_AT_LEAST}, so that nobody can tell who answered"
        )
    return value


CANDIDATE_VOICE = (
    Definition(
        "survey.enabled",
        "off",
        _switch,
        "on or off: once a candidate's process ends (rejected, hired, withdrawn), their status page "
        "asks three anonymous questions (how likely they are to recommend applying, whether we "
        "answered when we said we would, a comment).",
    ),
    Definition(
        "survey.days_open",
        "30",
        _positive_int(1, 365),
        "Days after the final decision during which a candidate can answer the survey.",
    ),
    Definition(
        "survey.report_floor",
        "5",
        _floor,
        f"The fewest answers a group (manager, position, period) needs before its survey figures "
        f"and comments are shown anywhere (page, export, API); never below {FLOOR_AT_LEAST}.",
    ),
    Definition(
        "my_data.include_internal",
        "on",
        _switch,
        "on or off: \"Download my data\" (the candidate's, the candidate page's and "
        "`feedback-sla candidates export-data`) includes internal notes and internal rejection "
        "reasons.",
    ),
)
