"""Geohazard scenario suite (simulators/suites/geohazard.py): what only this family has - tangent-angle
incidents on both GNSS stations and crack meters, the Fukuzono failure time in the red reasons near the
injected one, and clean runs whose hard negatives do alarm once the persistence that handles them is
taken away. The checks every suite shares (levels per rule, recall and precision ≥ 0.95 per rule, silent
clean runs, determinism) are in tests/quality/test_suites.py."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from types import ModuleType

import numpy as np

from simulators.suites import geohazard as suite
from simulators.suites.harness import Evaluation, LabelledRun, run_engine, with_params


def test_tangent_angle_incidents_on_both_kinds(
    incident_evaluation: Callable[[ModuleType], Evaluation],
) -> None:
    """The tangent-angle rule is exercised on GNSS displacement and on crack meters alike."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for run in incident_evaluation(suite).runs:
        for e in run.expected:
            kinds[e.rule].add(run.registry.sensors[run.registry.index[e.sensor_id]].kind)
    assert kinds[suite.TA] == {"gnss_displacement", "crack_meter"}


def test_red_reasons_carry_a_failure_time_near_the_injected_one(
    incident_evaluation: Callable[[ModuleType], Evaluation],
) -> None:
    evaluation = incident_evaluation(suite)
    checked = 0
    for run, alerts in zip(evaluation.runs, evaluation.alerts, strict=True):
        for e in run.expected:
            match = re.search(r"failure on day ([0-9.]+)", e.description)
            if e.rule != suite.TA or match is None:
                continue
            true_tf_ms = suite.START_TS_MS + float(match.group(1)) * 86_400_000
            reds = [
                a
                for a in alerts
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
