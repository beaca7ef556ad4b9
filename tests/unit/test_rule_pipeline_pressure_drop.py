"""pipeline_pressure_drop: −(least-squares slope over 60 s) as % of nominal per minute; blue 0.5,
yellow 1, orange 2, red 5 %/min, each after 3 consecutive readings; clears below blue ([P], dP/dt)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import PipelinePressureDrop, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
NOMINAL = 300.0


def pressure(pct_per_min: Sequence[float], dt_s: float = 5.0, start: float = NOMINAL) -> np.ndarray:
    """kPa readings: reading i fell ``pct[i]`` % of nominal per minute since reading i - 1."""
    steps = -np.asarray(pct_per_min, dtype=float) / 100.0 * NOMINAL * dt_s / 60.0
    steps[0] = 0.0
    return start + np.cumsum(steps)


def run(
    p: Sequence[float],
    dt_s: float = 5.0,
    params: Mapping[str, Any] | None = None,
    rows: Sequence[int] | None = None,
) -> RuleOutput:
    rule = PipelinePressureDrop()
    rows = list(rows) if rows is not None else [0] * len(p)
    cap = max(rows) + 1
    state = rule.configure(rule.init_state(cap), [params or {}] * cap, [f"p{i}" for i in range(cap)])
    ts = T0 + (np.arange(len(p)) * dt_s * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of(rows, ts, np.asarray(p, dtype=float)))


def test_steady_pressure_scores_zero_once_five_points_are_in_the_window() -> None:
    out = run(np.full(10, NOMINAL))
    assert np.isnan(out.scores[:4]).all()
    np.testing.assert_allclose(out.scores[4:], 0.0, atol=1e-12)
    assert (out.levels == NORMAL).all()


@pytest.mark.parametrize(
    ("pct", "level"),
    [
        (0.49, NORMAL),
        (0.5, BLUE),
        (0.51, BLUE),
        (0.99, BLUE),
        (1.0, YELLOW),
        (1.01, YELLOW),
        (1.99, YELLOW),
        (2.0, ORANGE),
        (2.01, ORANGE),
        (4.99, ORANGE),
        (5.0, RED),
        (5.01, RED),
    ],
)
def test_levels_at_each_rate_after_three_readings(pct: float, level: int) -> None:
    out = run(pressure([pct] * 7))
    np.testing.assert_allclose(out.scores[4:], pct, rtol=1e-9)
    assert out.levels.tolist() == [NORMAL] * 6 + [level]  # active at reading 5, raised at reading 7


def test_alarm_holds_until_the_rate_falls_below_blue() -> None:
    rates = [2.5] * 10 + [0.6] * 20 + [0.0] * 20
    out = run(pressure(rates))
    assert out.levels[9] == ORANGE
    assert np.all(out.levels[9:30] == ORANGE)  # 0.6 %/min ≥ 0.5: held at orange, not de-escalated
    below = np.flatnonzero(out.scores < 0.5)
    first_below = int(below[below > 9][0])
    assert out.levels[first_below - 1] == ORANGE and out.levels[first_below] == NORMAL
    assert (out.levels[first_below:] == NORMAL).all()


def test_rising_pressure_is_not_a_drop() -> None:
    out = run(pressure([-5.0] * 10))
    assert (out.scores[4:] < 0).all() and (out.levels == NORMAL).all()


def test_too_sparse_for_the_window_is_not_computed() -> None:
    out = run(pressure([5.0] * 10, dt_s=20.0), dt_s=20.0)  # 3 readings per 60 s < min_points 5
    assert np.isnan(out.scores).all() and (out.levels == NORMAL).all()
    dense = run(pressure([5.0] * 10, dt_s=20.0), dt_s=20.0, params={"rate_window_s": 120})
    assert dense.levels[-1] == RED


def test_per_sensor_nominal_and_thresholds() -> None:
    # 3 kPa/min is 1 %/min of 300 kPa but 2 %/min of 150 kPa
    p = pressure([1.0] * 7)
    assert run(p).levels[-1] == YELLOW
    assert run(p, params={"nominal_kpa": 150}).levels[-1] == ORANGE
    assert run(p, params={"yellow_pct_per_min": 1.5, "sustain_readings": 1}).levels.tolist()[4:] == [BLUE] * 3


def test_non_finite_readings_are_skipped() -> None:
    p = pressure([2.5] * 9)
    p[5] = np.nan
    out = run(p)
    assert np.isnan(out.scores[5])
    assert out.levels[-1] == ORANGE


def test_sensors_are_isolated() -> None:
    fall = pressure([6.0] * 8)
    flat = np.full(8, NOMINAL)
    out = run(np.r_[fall, flat], rows=[0] * 8 + [1] * 8)
    assert out.levels[7] == RED and (out.levels[8:] == NORMAL).all()


@pytest.mark.parametrize(
    "params", [{"nominal_kpa": 0}, {"yellow_pct_per_min": 0.1}, {"min_points": 1}, {"sustain_readings": 2.5}]
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = PipelinePressureDrop()
    with pytest.raises(SensorParamError, match="ps-4"):
        rule.configure(rule.init_state(1), [params], ["ps-4"])


def test_reason() -> None:
    rule = PipelinePressureDrop()
    out = run(pressure([2.4] * 7))
    ctx = rule.context(out.state, 0, "ps-4", "station-4", ORANGE, NORMAL, out.measures, 6)
    reason = rule.describe(ctx)
    assert reason.startswith("pressure drop 2.4 %/min at station-4 ≥ orange rate 2 %/min by 0.4 %/min")
    assert "dP/dt pressure-drop rule [P], domain-thresholds §2" in reason
    assert "falling 7.2 kPa/min of nominal 300 kPa" in reason and "3 consecutive readings" in reason
