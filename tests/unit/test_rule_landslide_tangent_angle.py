"""landslide_tangent_angle: improved tangent angle α = degrees(arctan(v / v̄)) (Xu Qiang et al. 2009);
yellow α ≥ 45° + margin (55°), orange ≥ 80°, red ≥ 85°, each after 3 consecutive readings."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import LandslideTangentAngle, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
V_BAR = 1.0  # mm/h, the constant-velocity rate of the test point


def rate_for(alpha_deg: float, v_bar: float = V_BAR) -> float:
    return math.tan(math.radians(alpha_deg)) * v_bar


def series(rates_mm_per_h: Sequence[float], dt_s: float = 60.0, start_mm: float = 1000.0) -> np.ndarray:
    """Cumulative displacement: reading i moved ``rates[i]`` mm/h since reading i - 1."""
    steps = np.asarray(rates_mm_per_h, dtype=float) * dt_s / 3600.0
    steps[0] = 0.0
    return start_mm + np.cumsum(steps)


def run(
    x: Sequence[float],
    dt_s: float = 60.0,
    params: Mapping[str, Any] | None = None,
    rows: Sequence[int] | None = None,
) -> RuleOutput:
    rule = LandslideTangentAngle()
    p = {"v_bar_mm_per_h": V_BAR} if params is None else params
    rows = list(rows) if rows is not None else [0] * len(x)
    cap = max(rows) + 1
    state = rule.configure(rule.init_state(cap), [p] * cap, [f"gnss-{i}" for i in range(cap)])
    ts = T0 + (np.arange(len(x)) * dt_s * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of(rows, ts, np.asarray(x, dtype=float)))


def test_constant_velocity_is_45_degrees_and_normal() -> None:
    out = run(series([V_BAR] * 20))
    assert np.isnan(out.scores[:9]).all()  # fewer than min_points = 10 readings in the window
    np.testing.assert_allclose(out.scores[9:], 45.0)
    assert (out.levels == NORMAL).all()


@pytest.mark.parametrize(
    ("alpha", "level"),
    [
        (54.9, NORMAL),
        (55.0, YELLOW),  # 45° + margin_deg 10°, exactly at
        (55.1, YELLOW),
        (79.9, YELLOW),
        (80.0, ORANGE),
        (80.1, ORANGE),
        (84.9, ORANGE),
        (85.0, RED),
        (85.1, RED),
    ],
)
def test_levels_at_each_angle_after_three_readings(alpha: float, level: int) -> None:
    out = run(series([rate_for(alpha)] * 12))
    np.testing.assert_allclose(out.scores[9:], alpha, atol=1e-9)
    # active from the 10th reading; raised on the 3rd consecutive reading at or above the angle
    assert out.levels.tolist() == [NORMAL] * 11 + [level]


def test_level_falls_as_soon_as_the_angle_drops_below_its_threshold() -> None:
    out = run(series([rate_for(87.0)] * 14 + [rate_for(30.0)] * 14))
    assert out.levels[13] == RED
    after = slice(13, None)
    alpha = out.scores[after]
    implied = np.select([alpha >= 85, alpha >= 80, alpha >= 55], [RED, ORANGE, YELLOW], NORMAL)
    assert out.levels[after].tolist() == implied.tolist()
    assert out.levels[-1] == NORMAL
    assert list(out.levels[after]) == sorted(out.levels[after], reverse=True)


def test_persistence_needs_three_consecutive_readings() -> None:
    # a 2-point window (120 s fit window, readings every 60 s) makes α the angle of the last step
    params = {"v_bar_mm_per_h": V_BAR, "fit_window_s": 120, "min_points": 2}
    fast, calm = rate_for(86.0), V_BAR
    out = run(series([calm, calm, fast, fast, calm, fast, fast, fast, calm]), params=params)
    np.testing.assert_allclose(out.scores[1:], [45, 86, 86, 45, 86, 86, 86, 45], atol=1e-9)
    assert out.levels.tolist() == [NORMAL] * 7 + [RED, NORMAL]


def test_inactive_without_v_bar_or_below_noise_floor() -> None:
    x = series([rate_for(89.0)] * 15)
    for params in ({}, {"v_bar_mm_per_h": 0}, {"v_bar_mm_per_h": 0.04}):
        out = run(x, params=params)
        assert np.isnan(out.scores).all()
        assert (out.levels == NORMAL).all()
    assert np.isfinite(run(x, params={"v_bar_mm_per_h": 0.05}).scores[9:]).all()


def test_inactive_while_the_window_spans_less_than_half_the_fit_window() -> None:
    # one reading every 20 s: 10 readings span 180 s < 300 s; active once the span reaches 300 s
    out = run(series([rate_for(60.0)] * 20, dt_s=20.0), dt_s=20.0)
    assert np.isnan(out.scores[:15]).all()
    assert np.isfinite(out.scores[15:]).all()
    assert out.levels.tolist() == [NORMAL] * 17 + [YELLOW] * 3


def test_a_gap_deactivates_and_clears() -> None:
    x = series([rate_for(87.0)] * 14)
    rule = LandslideTangentAngle()
    state = rule.configure(rule.init_state(1), [{"v_bar_mm_per_h": V_BAR}], ["g"])
    ts = T0 + np.arange(14) * 60_000
    first = rule.evaluate(state, Batch.of([0] * 14, ts, x))
    assert first.levels[-1] == RED
    later = rule.evaluate(first.state, Batch.of([0], [ts[-1] + 3_600_000], [x[-1] + 5.0]))
    assert np.isnan(later.scores[0]) and later.levels.tolist() == [NORMAL]


def test_least_squares_smooths_gnss_noise() -> None:
    rng = np.random.default_rng(7)
    x = series([V_BAR] * 60) + rng.normal(0.0, 0.01, 60)
    out = run(x)
    assert (out.levels == NORMAL).all()
    point_to_point = np.degrees(np.arctan(np.diff(x) / (60 / 3600) / V_BAR))
    # why the rule fits a slope: raw point-to-point angles of the same data cross the yellow angle
    assert (point_to_point >= 55).sum() >= 3


def test_per_sensor_margin_and_persistence() -> None:
    out = run(
        series([rate_for(52.0)] * 12),
        params={"v_bar_mm_per_h": V_BAR, "margin_deg": 5, "persist_readings": 1},
    )
    assert out.levels.tolist() == [NORMAL] * 9 + [YELLOW] * 3


def test_sensors_are_isolated() -> None:
    fast = series([rate_for(87.0)] * 12)
    calm = series([V_BAR] * 12)
    rows = [0] * 12 + [1] * 12
    out = run(np.r_[fast, calm], rows=rows)
    alone = run(calm)
    np.testing.assert_array_equal(out.scores[12:], alone.scores)
    assert out.levels[11] == RED and (out.levels[12:] == NORMAL).all()


@pytest.mark.parametrize(
    "params",
    [
        {"v_bar_mm_per_h": -1},
        {"margin_deg": 40},
        {"persist_readings": 0},
        {"min_points": 1},
        {"fit_window_s": 0},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = LandslideTangentAngle()
    with pytest.raises(SensorParamError, match="gnss-9"):
        rule.configure(rule.init_state(1), [params], ["gnss-9"])


def test_reasons() -> None:
    rule = LandslideTangentAngle()
    out = run(series([rate_for(86.0)] * 12))
    ctx = rule.context(out.state, 0, "gnss-1", "slope-7", RED, NORMAL, out.measures, 11)
    reason = rule.describe(ctx)
    assert reason.startswith("tangent angle 86° at slope-7 ≥ critical-sliding angle 85° by 1°")
    assert "Xu Qiang" in reason and "v̄ 1 mm/h" in reason and "3 consecutive readings" in reason
    cold = run(series([V_BAR] * 3))
    ctx = rule.context(cold.state, 0, "gnss-1", "slope-7", NORMAL, RED, cold.measures, 2)
    assert "not computable" in rule.describe(ctx) and "3 readings" in rule.describe(ctx)
