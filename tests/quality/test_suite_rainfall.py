"""Rainfall scenario suite (simulators/suites/rainfall.py): what only this family has - underpasses
that fill fast and are red, soaking-rain labels that follow the rain the gauges reported, and clean runs
whose hard negatives do alarm with looser settings. The checks every suite shares (levels per rule,
recall and precision ≥ 0.95 per rule, silent clean runs, determinism) are in
tests/quality/test_suites.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import ModuleType

import numpy as np

from simulators.suites import rainfall as suite
from simulators.suites.harness import Evaluation, run_engine, with_params


def test_underpass_waterlogging_is_red(incident_evaluation: Callable[[ModuleType], Evaluation]) -> None:
    """The suite's underpasses fill at 13-25 cm per 10 min, red by their rise: there are such incidents
    and every one is labelled red."""
    underpass_red = [
        e
        for run in incident_evaluation(suite).runs
        for e in run.expected
        if e.rule == suite.WL
        and run.registry.sensors[run.registry.index[e.sensor_id]].params["location"] == "underpass"
    ]
    assert underpass_red and {e.level for e in underpass_red} == {"red"}


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
