"""The product's promise, replayed small: with autopilot on, every candidate hears from us by the
deadline even when their manager answers only a third of what the digest lists.

A short run of ``benchmarks/simulate.py``: two managers (Berlin and London), two weeks from Monday
2 March 2026 on a moved clock, through the app's services and the cron commands themselves.
"""

from __future__ import annotations

import pytest

from benchmarks.simulate import BASE_URL, Plan, simulate


@pytest.fixture
def simulation_config(app_config, tmp_path):
    """The settings cron's commands need: links in the digest, mail written as files."""
    app_config.update(BASE_URL=BASE_URL, MAIL_BACKEND="file", OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    return app_config


def test_with_autopilot_every_wait_is_answered_by_its_deadline(simulation_config, app):
    result = simulate(app, Plan(managers=2, days=8, share=0.3, autopilot=True, applications=3))

    assert result.candidates > 30
    assert result.judged > 5
    assert result.by_autopilot > 0  # autopilot wrote where the managers did not
    assert result.missed == 0, f"{result.missed} of {result.judged} waits passed their deadline unanswered"
    assert max(result.silences) <= 5  # no one waited longer than the application policy
    assert not result.refused


def test_without_autopilot_the_same_managers_miss_deadlines(simulation_config, app):
    result = simulate(app, Plan(managers=2, days=8, share=0.3, autopilot=False, applications=3))

    assert result.judged > 5
    assert result.by_autopilot == 0
    assert result.missed > 0
