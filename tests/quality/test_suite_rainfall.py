"""Rainfall scenario suite through the engine (simulators/suites/rainfall.py, scored by the harness):
recall ≥ 0.95 per rule on the injected rainstorms, soaking rains and waterlogging, every level covered,
and no alarm at all on the clean runs - whose hard negatives do alarm with looser settings."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Channel
from simulators.suites import rainfall as suite
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
    underpass_red = [
        e
        for run in incident_runs
        for e in run.expected
        if e.rule == suite.WL
        and run.registry.sensors[run.registry.index[e.sensor_id]].params["location"] == "underpass"
    ]
    assert underpass_red and {e.level for e in underpass_red} == {"red"}


@pytest.mark.parametrize("rule", suite.RULES)
def test_recall_and_precision_per_rule(scores: dict[str, RuleScore], rule: str) -> None:
    s = scores[rule]
    assert s.incidents >= 12, table(scores)
    assert s.recall >= 0.95, table(scores)
    assert s.precision >= 0.95, table(scores)


def test_labels_follow_the_injected_rain() -> None:
    """The soaking-rain labels are the R_e formula applied to what the gauges actually reported."""
    run = suite.soaking_rain(2)
    for e in run.expected:
        match = re.match(r"([0-9.]+) mm/d for ([0-9]+) d", e.description)
        assert match, e.description
        rate, days = float(match.group(1)), int(match.group(2))
        total = float(np.nansum(run.values[run.rows == run.registry.index[e.sensor_id], 0]))
        assert abs(total - rate * days) <= 0.05 * days + 0.1  # the rate is printed to 0.1 mm/d
        assert e.level == suite.antecedent_level(suite.antecedent_after(total / days, days))


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


def with_params(run: LabelledRun, changes: dict[str, dict[str, Any]]) -> LabelledRun:
    sensors = [
        Sensor(
            **{
                **{f: getattr(s, f) for f in Sensor.__dataclass_fields__},
                "params": {**s.params, **changes[s.sensor_id]},
            }
        )
        if s.sensor_id in changes
        else s
        for s in run.registry
    ]
    return LabelledRun(run.name, Registry(sensors), run.rows, run.ts_ms, run.values, [], run.grace_ms)


def test_the_hard_negatives_are_hard() -> None:
    """Vehicle echoes alarm without the 2-reading persistence, the slow filling with a 1 cm/10 min rise
    limit, and the soaking rain at the city station if it served a slope."""
    run = with_params(
        suite.clean_rainfall(11),
        {
            "rf-wd-c01": {"persist_readings": 1},
            "rf-wd-c02": {"rise_cm_per_10min": 0.9},
            "rf-rg-c03": {"landslide_warning": 1},
        },
    )
    raised = {(a.sensor_id, a.rule, a.level) for a in run_engine(run) if a.previous_level == "normal"}
    assert {("rf-wd-c01", suite.WL), ("rf-wd-c02", suite.WL), ("rf-rg-c03", suite.AR)} <= {
        r[:2] for r in raised
    }
    assert ("rf-rg-c03", suite.AR, "blue") in raised


def test_the_suite_is_deterministic() -> None:
    a, b = suite.waterlogging_events(5), suite.waterlogging_events(5)
    assert (a.ts_ms == b.ts_ms).all() and (a.rows == b.rows).all() and a.expected == b.expected
    np.testing.assert_array_equal(a.values, b.values)
