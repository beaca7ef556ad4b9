"""Elevator scenario suite through the engine (simulators/suites/elevator.py, scored by the harness):
recall ≥ 0.95 per rule on the injected incidents, every documented level covered, and no alarm at all
on the clean runs full of hard negatives."""

from __future__ import annotations

from collections import defaultdict

import pytest

from riskstream.schemas import Channel
from simulators.suites import elevator as suite
from simulators.suites.harness import LabelledRun, RuleScore, evaluate, run_engine, table

#: the levels each rule's documentation maps physical events to
LEVELS = {
    suite.TRAP: {"yellow", "orange", "red"},
    suite.STOPPED: {"yellow"},
    suite.DOOR: {"orange", "red"},
    suite.OVERSPEED: {"orange", "red"},
    suite.VIBRATION: {"blue", "yellow", "orange"},
    suite.HEARTBEAT: {"blue", "yellow"},
}


@pytest.fixture(scope="module")
def incident_runs() -> list[LabelledRun]:
    return suite.incident_runs()


@pytest.fixture(scope="module")
def scores(incident_runs: list[LabelledRun]) -> dict[str, RuleScore]:
    return evaluate(incident_runs)


def test_incidents_cover_every_rule_and_level(incident_runs: list[LabelledRun]) -> None:
    levels: dict[str, set[str]] = defaultdict(set)
    for run in incident_runs:
        for e in run.expected:
            levels[e.rule].add(e.level)
    assert dict(levels) == LEVELS
    long_traps = [e for r in incident_runs for e in r.expected if e.rule == suite.TRAP and e.level == "red"]
    assert long_traps and all(e.end_ts_ms - e.start_ts_ms > 3_600_000 for e in long_traps)


@pytest.mark.parametrize("rule", suite.RULES)
def test_recall_per_rule(scores: dict[str, RuleScore], rule: str) -> None:
    s = scores[rule]
    assert s.incidents >= 6, table(scores)
    assert s.recall >= 0.95, table(scores)
    assert s.precision >= 0.95, table(scores)


def test_clean_runs_raise_nothing() -> None:
    raised = []
    for run in suite.clean_runs():
        assert not run.expected
        raised += [
            (run.name, a.sensor_id, a.rule, a.level, a.reason)
            for a in run_engine(run)
            if a.channel == Channel.HAZARD and a.previous_level == "normal"
        ]
    assert raised == []


def test_the_suite_is_deterministic() -> None:
    a, b = suite.status_run(5), suite.status_run(5)
    assert (a.ts_ms == b.ts_ms).all() and (a.rows == b.rows).all() and a.expected == b.expected
