"""Hazchem scenario suite through the engine (simulators/suites/hazchem.py, scored by the harness): recall
≥ 0.95 per rule on the injected incidents, every documented level covered (with the major-hazard-source
weighting), and no alarm at all on the clean runs full of hard negatives."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from riskstream.schemas import Channel
from simulators.suites import hazchem as suite
from simulators.suites.harness import LabelledRun, RuleScore, evaluate, run_engine, table

ALL = {"blue", "yellow", "orange", "red"}


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
    assert dict(levels) == dict.fromkeys(suite.RULES, ALL)
    # the weighting is exercised at both weighted farms (A: level 1, B: level 2)
    weighted = {e.sensor_id[:3] for r in incident_runs for e in r.expected}
    assert {"hza", "hzb", "hzc"} <= weighted


@pytest.mark.parametrize("rule", suite.RULES)
def test_recall_and_precision_per_rule(scores: dict[str, RuleScore], rule: str) -> None:
    s = scores[rule]
    assert s.incidents >= 12, table(scores)
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


def test_clean_runs_hold_real_hard_negatives() -> None:
    """Tanks filled to within 3 % of H, gas puffs to over half the pre-alarm, heating at 0.15 °C/min."""
    run = suite.clean_run(11)
    kinds = np.array([run.registry.sensors[r].kind for r in run.rows])
    v = run.values[:, 0]
    assert v[kinds == "tank_level"].max() > 81.5
    assert v[kinds == "tank_level"].min() < 15.0
    assert v[kinds == "combustible_gas"].max() > 7.0


def test_the_suite_is_deterministic() -> None:
    a, b = suite.incident_run(5), suite.incident_run(5)
    assert (a.ts_ms == b.ts_ms).all() and (a.rows == b.rows).all() and a.expected == b.expected
    np.testing.assert_array_equal(a.values, b.values)
