"""Geohazard scenario suite through the engine (simulators/suites/geohazard.py, scored by the harness):
recall ≥ 0.95 per rule on the injected landslide stages, accelerations and crack jumps, every level
covered, the Fukuzono failure time in the red reasons near the injected one, and no alarm at all on
the clean runs - whose hard negatives do alarm once the persistence that handles them is taken away."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Channel
from simulators.suites import geohazard as suite
from simulators.suites.harness import LabelledRun, RuleScore, run_engine, score_run, table

ALL = {"blue", "yellow", "orange", "red"}


@pytest.fixture(scope="module")
def incident_runs() -> list[LabelledRun]:
    return suite.incident_runs()


@pytest.fixture(scope="module")
def incident_alerts(incident_runs: list[LabelledRun]) -> dict[str, list[Any]]:
    return {run.name: run_engine(run) for run in incident_runs}


@pytest.fixture(scope="module")
def scores(incident_runs: list[LabelledRun], incident_alerts: dict[str, list[Any]]) -> dict[str, RuleScore]:
    """harness.evaluate, from the alerts already computed for the other tests."""
    out: dict[str, RuleScore] = defaultdict(RuleScore)
    for run in incident_runs:
        score_run(run, incident_alerts[run.name], out)
    return dict(out)


def test_incidents_cover_every_rule_and_level(incident_runs: list[LabelledRun]) -> None:
    levels: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, set[str]] = defaultdict(set)
    for run in incident_runs:
        for e in run.expected:
            levels[e.rule].add(e.level)
            kinds[e.rule].add(run.registry.sensors[run.registry.index[e.sensor_id]].kind)
    assert dict(levels) == dict.fromkeys(suite.RULES, ALL)
    assert kinds[suite.TA] == {"gnss_displacement", "crack_meter"}


@pytest.mark.parametrize("rule", suite.RULES)
def test_recall_and_precision_per_rule(scores: dict[str, RuleScore], rule: str) -> None:
    s = scores[rule]
    assert s.incidents >= 12, table(scores)
    assert s.recall >= 0.95, table(scores)
    assert s.precision >= 0.95, table(scores)


def test_red_reasons_carry_a_failure_time_near_the_injected_one(
    incident_runs: list[LabelledRun], incident_alerts: dict[str, list[Any]]
) -> None:
    checked = 0
    for run in incident_runs:
        for e in run.expected:
            match = re.search(r"failure on day ([0-9.]+)", e.description)
            if e.rule != suite.TA or match is None:
                continue
            true_tf_ms = suite.START_TS_MS + float(match.group(1)) * 86_400_000
            reds = [
                a
                for a in incident_alerts[run.name]
                if a.sensor_id == e.sensor_id
                and a.rule == suite.TA
                and a.level == "red"
                and a.previous_level != "red"
            ]
            assert reds, (run.name, e)
            reason = reds[0].reason
            assert "inverse velocity (Fukuzono 1985): failure time t_f ≈" in reason, reason
            lead_h = float(re.search(r", ([0-9.]+) (h|d) after this reading", reason).group(1))
            unit = re.search(r", [0-9.]+ (h|d) after this reading", reason).group(1)
            predicted_ms = reds[0].ts_ms + lead_h * (3_600_000 if unit == "h" else 86_400_000)
            assert abs(predicted_ms - true_tf_ms) <= 12 * 3_600_000, reason  # within 12 h
            assert reds[0].ts_ms < true_tf_ms  # red before the failure
            checked += 1
    assert checked >= 6


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
    """The same readings with some sensors' params changed (``changes[sensor_id]``)."""
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


def raised_on(run: LabelledRun) -> set[tuple[str, str]]:
    return {(a.sensor_id, a.rule) for a in run_engine(run) if a.previous_level == "normal"}


def test_the_hard_negatives_are_hard() -> None:
    """Without the persistence that handles them, the clean run's rain steps and crack steps alarm."""
    run = suite.clean_slopes(11)
    # a rain step: 6 mm in 6 h on a slope creeping 6 mm/d is a raw point-to-point angle far above 80°
    row = run.registry.index["gh-gn-c03"]
    mine = run.rows == row
    t_h = (run.ts_ms[mine] - run.ts_ms[mine][0]) / 3.6e6
    x = run.values[mine, 0]
    step = (t_h > 5 * 24) & (t_h < 5 * 24 + 6)
    raw = np.degrees(np.arctan(np.diff(x[step]) / np.diff(t_h[step]) / (suite.V_BAR / 24)))
    assert (raw >= 80).mean() > 0.3
    loose = with_params(
        run,
        {
            "gh-gn-c03": {"persist_s": 0, "accel_persist_s": 0},
            "gh-gn-c04": {"persist_s": 0, "accel_persist_s": 0},
        },
    )
    got = raised_on(loose)
    assert {("gh-gn-c03", suite.TA), ("gh-gn-c04", suite.TA)} <= got
    assert ("gh-gn-c03", suite.ACC) in got


def test_the_suite_is_deterministic() -> None:
    a, b = suite.crack_events_10min(5), suite.crack_events_10min(5)
    assert (a.ts_ms == b.ts_ms).all() and (a.rows == b.rows).all() and a.expected == b.expected
    np.testing.assert_array_equal(a.values, b.values)
