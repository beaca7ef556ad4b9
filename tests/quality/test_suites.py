"""The checks every scenario suite (simulators/suites/<family>.py, scored by the harness) must pass,
once for each family: the incident runs are labelled with exactly the levels the suite promises for
every rule (``suite.EXPECTED_LEVELS``), every rule has enough incidents and reaches recall and precision
≥ 0.95 on them, the clean runs full of hard negatives raise no alarm at all, and the runs are the same
for the same seed. What only one family has (hard negatives that alarm with looser settings, label and
failure-time checks, weighted farms...) stays in tests/quality/test_suite_<family>.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytest

from riskstream.schemas import Channel
from simulators.suites import elevator, gas_pipeline, geohazard, hazchem, rainfall
from simulators.suites.harness import Evaluation, LabelledRun, run_engine, table

MIN_RECALL = 0.95
MIN_PRECISION = 0.95


@dataclass(frozen=True, slots=True)
class Family:
    """One scenario suite and what the shared checks need to know about it."""

    suite: ModuleType
    #: the fewest incidents each rule must have, so that recall and precision mean something
    min_incidents: int
    #: one of the suite's runs for a seed, built twice by the determinism check
    deterministic_run: Callable[[int], LabelledRun]


FAMILIES: dict[str, Family] = {
    "elevator": Family(elevator, 6, elevator.status_run),
    "gas_pipeline": Family(gas_pipeline, 12, gas_pipeline.methane_run),
    "geohazard": Family(geohazard, 12, geohazard.crack_events_10min),
    "hazchem": Family(hazchem, 12, hazchem.incident_run),
    "rainfall": Family(rainfall, 12, rainfall.waterlogging_events),
}

RULES_OF_FAMILIES = [
    pytest.param(name, rule, id=f"{name}-{rule}") for name, f in FAMILIES.items() for rule in f.suite.RULES
]


@pytest.mark.parametrize("family", FAMILIES)
def test_incidents_cover_every_rule_and_level(
    incident_evaluation: Callable[[ModuleType], Evaluation], family: str
) -> None:
    suite = FAMILIES[family].suite
    assert set(suite.EXPECTED_LEVELS) == set(suite.RULES)
    levels: dict[str, set[str]] = defaultdict(set)
    for run in incident_evaluation(suite).runs:
        for e in run.expected:
            levels[e.rule].add(e.level)
    assert dict(levels) == suite.EXPECTED_LEVELS


@pytest.mark.parametrize(("family", "rule"), RULES_OF_FAMILIES)
def test_recall_and_precision_per_rule(
    incident_evaluation: Callable[[ModuleType], Evaluation], family: str, rule: str
) -> None:
    f = FAMILIES[family]
    scores = incident_evaluation(f.suite).scores
    s = scores[rule]
    assert s.incidents >= f.min_incidents, table(scores)
    assert s.recall >= MIN_RECALL, table(scores)
    assert s.precision >= MIN_PRECISION, table(scores)


@pytest.mark.parametrize("family", FAMILIES)
def test_clean_runs_raise_nothing(family: str) -> None:
    raised = []
    for run in FAMILIES[family].suite.clean_runs():
        assert not run.expected
        raised += [
            (run.name, a.sensor_id, a.rule, a.level, a.reason)
            for a in run_engine(run)
            if a.channel == Channel.HAZARD and a.previous_level == "normal"
        ]
    assert raised == []


@pytest.mark.parametrize("family", FAMILIES)
def test_the_suite_is_deterministic(family: str) -> None:
    build = FAMILIES[family].deterministic_run
    a, b = build(5), build(5)
    assert (a.ts_ms == b.ts_ms).all() and (a.rows == b.rows).all() and a.expected == b.expected
    np.testing.assert_array_equal(a.values, b.values)
