"""SVG charts made on the server: the geometry is computed here, templates/metrics/_charts.html draws it.

Readable without colour: every bar carries its value as text, the states also differ by pattern,
and each chart has a title, a description and a table with the same numbers beside it. Only SVG
presentation attributes are used (the page's CSP forbids inline styles), so any text in a chart
goes through Jinja's autoescaping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext

from feedback_sla.metrics.service import Metrics, WeekShare
from feedback_sla.waits.clock import State

INK = "#212529"
MUTED = "#6c757d"
RULE = "#ced4da"
BLUE = "#0b5ed7"
CHAR_WIDTH = 7.0  # a generous average width of a 12px character, to keep labels inside the chart


def percent(share: float | None) -> str:
    """0.6667 -> '66.7%', 1.0 -> '100%'; None (nothing to measure) -> 'n/a'."""
    if share is None:
        return "n/a"
    return f"{round(100 * share, 1):g}%"


def week_label(week) -> str:
    return f"{week.day} {week:%b %Y}"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    stroke: str | None = None


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"
    fill: str = INK
    bold: bool = False
    # Names the figure a value label shows (e.g. "week-2026-11-02"), for tests and scrapers.
    key: str | None = None


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Pattern:
    """A fill that differs by shape as well as by colour: ``kind`` is solid, diagonal, cross or dots."""

    id: str
    kind: str
    colour: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    width: int
    height: int
    rects: tuple[Rect, ...]
    labels: tuple[Label, ...]
    rules: tuple[Rule, ...] = ()
    patterns: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class Charts:
    weekly: Chart
    days: Chart
    states: Chart


def build(metrics: Metrics) -> Charts:
    return Charts(
        weekly=weekly_share_chart(metrics.weeks),
        days=days_chart(metrics.histogram()),
        states=states_chart(metrics.open_states),
    )


def week_value(week: WeekShare) -> str:
    """The text beside a week's bar: '80% (4 of 5)', or why there is no bar."""
    if week.waits == 0:
        return "no waits"
    if week.decided == 0:
        return "none decided yet"
    return f"{percent(week.share)} ({week.met} of {week.decided})"


def _value_label(x_end: float, x_start: float, y: float, text: str, right_edge: float, key: str) -> Label:
    """A value just after its bar's end, or inside the bar, in white, when it would not fit."""
    if x_end + 6 + len(text) * CHAR_WIDTH <= right_edge or x_end - x_start < len(text) * CHAR_WIDTH + 12:
        return Label(x_end + 6, y, text, key=key)
    return Label(x_end - 6, y, text, anchor="end", fill="#ffffff", bold=True, key=key)


def weekly_share_chart(weeks: Sequence[WeekShare]) -> Chart:
    """One horizontal bar per week: the share of decided waits answered within the deadline."""
    width, left, right, top, row, bar = 640, 104, 150, 30, 24, 16
    plot = width - left - right
    height = top + row * len(weeks) + 8
    rules, labels, rects = [], [Label(left - 8, top - 12, "week of", anchor="end", fill=MUTED)], []
    for tick in (0, 25, 50, 75, 100):
        x = left + plot * tick / 100
        rules.append(Rule(x, top - 6, x, height - 8))
        labels.append(Label(x, top - 12, f"{tick}%", anchor="start" if tick == 0 else "middle", fill=MUTED))
    for i, week in enumerate(weeks):
        y = top + i * row + (row - bar) / 2
        labels.append(Label(left - 8, y + bar - 3, week_label(week.week), anchor="end"))
        length = plot * (week.share or 0)
        if week.share is not None:
            rects.append(Rect(left, y, length, bar, BLUE))
        key = f"week-{week.week.isoformat()}"
        labels.append(_value_label(left + length, left, y + bar - 3, week_value(week), width, key))
    first, last = (week_label(weeks[0].week), week_label(weeks[-1].week)) if weeks else ("", "")
    return Chart(
        id="chart-weekly",
        title=gettext("Share answered within the deadline, week by week"),
        description=(
            f"Horizontal bar chart, one bar per week from the week of {first} to the week of {last}, "
            "by the day each wait opened. A bar's length is the share of the week's decided waits "
            "(answered, or still open past the deadline) that were answered within the deadline; "
            "its label gives the percentage and the counts. The table that follows has the same numbers."
        ),
        width=width,
        height=height,
        rects=tuple(rects),
        labels=tuple(labels),
        rules=tuple(rules),
    )


def _nice_step(top: int, ticks: int = 4) -> int:
    """A step of 1, 2 or 5 times a power of ten giving about ``ticks`` gridlines up to ``top``."""
    raw = max(1.0, top / ticks)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    raise AssertionError("unreachable")  # pragma: no cover


def days_chart(histogram: Sequence[tuple[str, int]]) -> Chart:
    """Columns: how many answered waits took 0, 1, 2, … business days (the last one: that many or more)."""
    width, height, left, right, top, bottom = 560, 280, 44, 12, 26, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max((count for _, count in histogram), default=0)
    step = _nice_step(highest)
    scale_top = max(step, math.ceil(highest / step) * step)
    rules, labels, rects = [], [], []
    for value in range(0, scale_top + 1, step):
        y = top + plot_h - plot_h * value / scale_top
        rules.append(Rule(left, y, width - right, y))
        labels.append(Label(left - 6, y + 4, str(value), anchor="end", fill=MUTED))
    column = plot_w / max(1, len(histogram))
    for i, (label, count) in enumerate(histogram):
        x = left + i * column
        bar_h = plot_h * count / scale_top
        if count:
            rects.append(Rect(x + column * 0.15, top + plot_h - bar_h, column * 0.7, bar_h, BLUE))
        centre = x + column / 2
        labels.append(
            Label(
                centre, top + plot_h - bar_h - 5, str(count), anchor="middle", bold=True, key=f"days-{label}"
            )
        )
        labels.append(Label(centre, top + plot_h + 16, label, anchor="middle"))
    labels.append(
        Label(left + plot_w / 2, height - 6, "business days to answer", anchor="middle", fill=MUTED)
    )
    counts = "; ".join(f"{label}: {count}" for label, count in histogram)
    return Chart(
        id="chart-days",
        title=gettext("Business days to answer"),
        description=(
            "Column chart of the answered waits by how many business days the answer took, from 0 "
            f"to {histogram[-1][0] if histogram else ''}; each column is labelled with its count. "
            f"Counts by business days: {counts}."
        ),
        width=width,
        height=height,
        rects=tuple(rects),
        labels=tuple(labels),
        rules=tuple(rules),
    )


#: Each state's fill: the colours of the state badges, and a different pattern for each.
STATE_FILLS = {
    State.ESCALATED: ("cross", "#dc3545"),
    State.OVERDUE: ("diagonal", "#ffc107"),
    State.DUE_SOON: ("dots", "#0dcaf0"),
    State.ON_TRACK: ("solid", "#198754"),
}


def states_chart(counts: dict[State, int]) -> Chart:
    """One horizontal bar per state, most urgent first, each filled with its own pattern."""
    width, left, right, top, row, bar = 560, 96, 60, 8, 36, 24
    plot = width - left - right
    height = top + row * len(counts) + 4
    biggest = max(counts.values(), default=0) or 1
    patterns, labels, rects = [], [], []
    for i, (state, count) in enumerate(counts.items()):
        kind, colour = STATE_FILLS[state]
        pattern = Pattern(f"chart-states-{state.value}", kind, colour)
        patterns.append(pattern)
        y = top + i * row + (row - bar) / 2
        labels.append(Label(left - 8, y + bar - 7, state.label.capitalize(), anchor="end"))
        length = plot * count / biggest
        if count:
            rects.append(Rect(left, y, length, bar, f"url(#{pattern.id})", stroke=INK))
        labels.append(
            Label(left + length + 6, y + bar - 7, str(count), bold=True, key=f"state-{state.value}")
        )
    summary = ", ".join(f"{state.label} {count}" for state, count in counts.items())
    return Chart(
        id="chart-states",
        title=gettext("Open waits by state now"),
        description=(
            "Horizontal bar chart of every wait open now, whenever it opened, by state, most urgent "
            f"first; each bar has its own pattern and is labelled with its count: {summary}."
        ),
        width=width,
        height=height,
        rects=tuple(rects),
        labels=tuple(labels),
        patterns=tuple(patterns),
    )
