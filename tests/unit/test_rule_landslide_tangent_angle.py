"""landslide_tangent_angle: improved tangent angle α = degrees(arctan(v / v̄)) (Xu Qiang et al. 2009);
yellow α ≥ 45° + margin (55°), orange ≥ 80°, red ≥ 85°, each after 3 consecutive readings, cleared
2° below; v̄ from the registry or estimated from the point's own stable record; Fukuzono failure time
at orange and red."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import LandslideTangentAngle, SensorParamError
from detectors.domain.geohazard_fit import FitBins
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


def test_levels_clear_two_degrees_below_their_angle() -> None:
    # hysteresis_deg 2: red holds down to 83°, orange to 78°, yellow to 53°
    rates = [rate_for(87.0)] * 14 + [rate_for(a) for a in (84.0, 83.5, 82.9, 79.0, 78.2, 77.9, 54.0, 52.9)]
    params = {"v_bar_mm_per_h": V_BAR, "fit_window_s": 120, "min_points": 2}
    out = run(series(rates), params=params)
    np.testing.assert_allclose(out.scores[14:], [84.0, 83.5, 82.9, 79.0, 78.2, 77.9, 54.0, 52.9], atol=1e-9)
    assert out.levels[13] == RED
    assert out.levels[14:].tolist() == [RED, RED, ORANGE, ORANGE, ORANGE, YELLOW, YELLOW, NORMAL]


def test_without_hysteresis_a_level_falls_as_soon_as_the_angle_drops_below_it() -> None:
    params = {"v_bar_mm_per_h": V_BAR, "fit_window_s": 120, "min_points": 2, "hysteresis_deg": 0}
    out = run(series([rate_for(87.0)] * 6 + [rate_for(84.9), rate_for(79.9), rate_for(54.9)]), params=params)
    assert out.levels[5:].tolist() == [RED, ORANGE, YELLOW, NORMAL]


def test_persistence_needs_three_consecutive_readings() -> None:
    # a 2-point window (120 s fit window, readings every 60 s) makes α the angle of the last step
    params = {"v_bar_mm_per_h": V_BAR, "fit_window_s": 120, "min_points": 2}
    fast, calm = rate_for(86.0), V_BAR
    out = run(series([calm, calm, fast, fast, calm, fast, fast, fast, calm]), params=params)
    np.testing.assert_allclose(out.scores[1:], [45, 86, 86, 45, 86, 86, 86, 45], atol=1e-9)
    assert out.levels.tolist() == [NORMAL] * 7 + [RED, NORMAL]


def test_inactive_below_the_noise_floor_or_before_v_bar_is_known() -> None:
    x = series([rate_for(89.0)] * 15)
    for params in ({}, {"v_bar_mm_per_h": 0}, {"v_bar_mm_per_h": 0.04}):
        out = run(x, params=params)
        assert np.isnan(out.scores).all()  # no v̄ yet (15 readings: too few stable windows), or too small
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
        {"hysteresis_deg": 10},
        {"creep_blue": 2},
        {"rising_gate": 0.5},
        {"vbar_min_windows": 65},
        {"ivel_min_points": 2},
        {"persist_critical_s": -1},
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


# --- time bins: any reporting rate fills the window ------------------------------------------------


def test_one_second_ticks_fill_the_600_s_window() -> None:
    # the v1 ring kept 128 readings: 128 s at 1 s ticks, never the 300 s the 600 s window needs
    out = run(series([rate_for(87.0)] * 900, dt_s=1.0), dt_s=1.0)
    assert np.isnan(out.scores[:300]).all()  # the window spans less than 300 s
    np.testing.assert_allclose(out.scores[300:], 87.0, atol=1e-6)
    assert out.levels[302] == RED
    # whole 30 s bins: the window holds the readings of the last 570-600 s
    assert 570 < out.measures.extra["points"][-1] <= 600


def test_time_bins_give_the_least_squares_slope_of_every_reading() -> None:
    rng = np.random.default_rng(3)
    ts = T0 + np.cumsum(rng.integers(200, 9_000, 400))
    x = 50.0 + np.cumsum(rng.normal(0.01, 0.05, 400))
    bins = FitBins("t", 20)
    state = bins.init_state(1)
    window_ms = 600_000
    for t, xv in zip(ts, x, strict=True):
        bins.push(state, np.array([0], np.int32), np.array([t]), np.array([xv]), np.array([window_ms // 20]))
        fit = bins.fit(state, np.array([0], np.int32), 0, 20)
        first_bin = t // (window_ms // 20) - 19
        inside = (ts <= t) & (ts // (window_ms // 20) >= first_bin)
        if inside.sum() >= 2:
            want = np.polyfit((ts[inside] - t) / 1000.0, x[inside], 1)[0]
            np.testing.assert_allclose(fit.slope[0], want, rtol=1e-7, atol=1e-12)
            assert fit.points[0] == inside.sum()
            assert fit.span_ms[0] == t - ts[inside].min()


def test_a_late_reading_joins_its_bin_and_the_fit_stays_anchored_at_the_newest() -> None:
    x = series([rate_for(60.0)] * 12)
    rule = LandslideTangentAngle()
    state = rule.configure(rule.init_state(1), [{"v_bar_mm_per_h": V_BAR}], ["g"])
    ts = T0 + np.arange(12) * 60_000
    keep = np.arange(12) != 5
    first = rule.evaluate(state, Batch.of([0] * 11, ts[keep], x[keep]))
    late = rule.evaluate(first.state, Batch.of([0], [ts[5]], [x[5]]))
    assert late.measures.extra["points"][0] == 10  # 10 readings in (newest - 600 s, newest]
    np.testing.assert_allclose(late.scores[0], 60.0, atol=1e-9)


# --- v̄ per point ------------------------------------------------------------------------------------


def noisy(rates: Sequence[float], sigma: float, seed: int = 1, dt_s: float = 60.0) -> np.ndarray:
    return series(rates, dt_s=dt_s) + np.random.default_rng(seed).normal(0.0, sigma, len(rates))


def test_v_bar_is_estimated_from_the_points_own_stable_record() -> None:
    # 1 mm/h creep for 40 min (16 stable windows needed), then 3 × v̄ (71.6°): yellow, v̄ ≈ 1 mm/h
    out = run(noisy([V_BAR] * 40 + [3 * V_BAR] * 20, 0.003), params={})
    e = out.measures.extra
    assert np.isnan(out.scores[:25]).all() and bool(e["v_bar_estimated"][-1])
    np.testing.assert_allclose(e["v_bar_mm_per_h"][40], V_BAR, rtol=0.03)
    assert out.levels[-1] == YELLOW and (out.levels[:40] == NORMAL).all()
    # the acceleration is not learned: v̄ stays put while the point runs at 3 × v̄
    np.testing.assert_allclose(e["v_bar_mm_per_h"][-1], e["v_bar_mm_per_h"][40], rtol=0.02)


def test_the_registry_v_bar_overrides_the_estimate() -> None:
    out = run(noisy([V_BAR] * 40 + [3 * V_BAR] * 20, 0.003), params={"v_bar_mm_per_h": 2.0})
    assert not out.measures.extra["v_bar_estimated"][-1]
    np.testing.assert_allclose(out.scores[-1], np.degrees(np.arctan(1.5)), atol=0.5)  # 3 / 2 → 56.3°
    assert out.levels[-1] == YELLOW


def test_a_stable_slope_is_never_active() -> None:
    # GNSS noise around a still point: the estimated v̄ is ~0, below the noise floor
    out = run(noisy([0.0] * 400, 0.02, seed=4), params={})
    assert np.isnan(out.scores).all() and (out.levels == NORMAL).all()
    assert set(out.measures.extra["inactive_why"][30:].tolist()) == {2}  # below the noise floor
    # even with the registry floor at 0, the fit's own velocity noise keeps it inactive
    out = run(noisy([0.0] * 400, 0.02, seed=4), params={"noise_floor_mm_per_h": 0})
    assert np.isnan(out.scores).all() and (out.levels == NORMAL).all()


def test_an_estimated_v_bar_inside_the_velocity_noise_is_refused() -> None:
    # 0.3 mm/h creep under 0.2 mm noise: a 10-point 600 s fit has a velocity error of ~1.3 mm/h
    x = noisy([0.3] * 120, 0.2, seed=5)
    assert np.isnan(run(x, params={}).scores).all()
    assert np.isfinite(run(x, params={"noise_sigmas": 0}).scores[40:]).any()


# --- persistence, trend gate, blue ---------------------------------------------------------------------

FAST_FIT = {"v_bar_mm_per_h": V_BAR, "fit_window_s": 120, "min_points": 2}


def test_a_falling_rate_does_not_raise_even_above_the_red_angle() -> None:
    rates = [V_BAR, V_BAR, 30, 25, 20, 15, 13]  # all ≥ 11.43 × v̄ (85°) after the second reading
    gated = run(series(rates), params=FAST_FIT)
    assert (gated.scores[2:] > 85).all() and (gated.levels == NORMAL).all()
    free = run(series(rates), params={**FAST_FIT, "rising_gate": 0})
    assert free.levels.tolist() == [NORMAL] * 4 + [RED] * 3


def test_early_and_critical_levels_must_hold_their_duration() -> None:
    params = {**FAST_FIT, "persist_readings": 1, "persist_s": 300, "persist_critical_s": 120}
    out = run(series([V_BAR] * 2 + [rate_for(60.0)] * 7 + [rate_for(82.0)] * 4), params=params)
    # yellow from reading 2 on, held 300 s at reading 7; orange from reading 9, held 120 s at reading 11
    assert out.levels.tolist() == [NORMAL] * 7 + [YELLOW] * 4 + [ORANGE] * 2


@pytest.mark.parametrize(("alpha", "level"), [(34.9, NORMAL), (35.0, BLUE), (35.1, BLUE), (54.9, BLUE)])
def test_creep_blue_at_the_constant_velocity_angle(alpha: float, level: int) -> None:
    out = run(series([rate_for(alpha)] * 12), params={"v_bar_mm_per_h": V_BAR, "creep_blue": 1})
    assert out.levels[-1] == level
    assert run(series([rate_for(alpha)] * 12)).levels[-1] == NORMAL  # off by default


# --- Fukuzono failure time ----------------------------------------------------------------------------


def test_inverse_velocity_failure_time_is_carried_at_orange_and_red() -> None:
    # tertiary creep, 1/v linear in t: v = v̄·τ/(t_f - t), τ = 10 h, one reading a minute
    tau_h, n = 10.0, 590
    t_h = np.arange(n) / 60.0
    x = 100.0 + V_BAR * tau_h * np.log(tau_h / (tau_h - t_h))
    rule = LandslideTangentAngle()
    out = run(x, params={"v_bar_mm_per_h": V_BAR})
    red_at = int(np.argmax(out.levels == RED))
    assert out.levels[red_at] == RED and out.levels[red_at - 1] == ORANGE
    tf_h = out.measures.extra["tf_h"][red_at]
    now_h = t_h[red_at]
    assert abs(now_h + tf_h - tau_h) < 0.1  # within 6 min of the true failure time
    ctx = rule.context(out.state, 0, "gnss-1", "slope-7", RED, ORANGE, out.measures, red_at)
    reason = rule.describe(ctx)
    assert "inverse velocity (Fukuzono 1985): failure time t_f ≈ 2023-11-15 08:" in reason
    assert "R² 1" in reason or "R² 0.99" in reason
    yellow_at = int(np.argmax(out.levels == YELLOW))
    ctx = rule.context(out.state, 0, "gnss-1", "slope-7", YELLOW, NORMAL, out.measures, yellow_at)
    assert "Fukuzono" not in rule.describe(ctx)
