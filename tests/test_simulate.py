"""The product's promise, replayed small: with autopilot on, every candidate hears from us by the
deadline even when their manager answers only a third of what the digest lists; and the candidates'
expected verdict (candidate NPS from Trustcruit's prompt and delayed figures) follows their silence.

A short run of ``benchmarks/simulate.py``, as its own process: two managers (Berlin and London), two
weeks from Monday 2 March 2026 on a moved clock, through the app's services and the cron commands
themselves, on the database the suite runs on. It reports its figures as JSON (``--json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def simulate(tmp_path: Path, autopilot: bool) -> dict:
    """The simulation with autopilot on or off, managers answering 30%: its figures."""
    out = tmp_path / "runs.json"
    database = "postgresql" if os.environ.get("FEEDBACK_SLA_TEST_DATABASE_URL") else "sqlite"
    command = [sys.executable, str(ROOT / "benchmarks" / "simulate.py")]
    command += ["--managers", "2", "--days", "8", "--shares", "30", "--applications", "3"]
    command += ["--autopilot", "on" if autopilot else "off", "--databases", database, "--json", str(out)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    [run] = json.loads(out.read_text())
    return run


def test_with_autopilot_every_wait_is_answered_by_its_deadline(tmp_path):
    result = simulate(tmp_path, autopilot=True)

    assert result["candidates"] > 30
    assert result["judged"] > 5
    assert result["by_autopilot"] > 0  # autopilot wrote where the managers did not
    assert result["missed"] == 0, (
        f"{result['missed']} of {result['judged']} waits passed their deadline unanswered"
    )
    assert result["longest_silence"] <= 5  # no one waited longer than the application policy
    assert not result["refused"]
    # Every decided candidate heard from us within the policy: Trustcruit's prompt-rejection NPS.
    assert result["surveyed"] > 0 and result["prompt"] == result["surveyed"]
    assert result["expected_nps"] == pytest.approx(-21.9)
    assert result["decision_median"] is not None and result["decision_median"] > 0
    assert result["share_by_deadline"] == 1.0


def test_without_autopilot_the_same_managers_miss_deadlines(tmp_path):
    result = simulate(tmp_path, autopilot=False)

    assert result["judged"] > 5
    assert result["by_autopilot"] == 0
    assert result["missed"] > 0
    # Some decided candidates met a silence longer than the policy: their verdict is harsher.
    assert result["surveyed"] > result["prompt"]
    assert -44.7 <= result["expected_nps"] < -21.9
    assert result["share_by_deadline"] < 1.0
