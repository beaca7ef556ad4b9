"""landslide_acceleration: a = Δv/Δt between back-to-back least-squares windows, in mm/d²; blue at the
0.9 mm/d² first early-warning value (Energies 2021), yellow 4.5, orange 9, red 18 ([P]), each after 3
consecutive readings, cleared below 0.8 × the set point; judged on the shortest window scale whose a
reaches the set point significantly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import LandslideAcceleration, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
DAY_S = 86_400.0
#: one-hour windows read every minute keep the tests short; the default is one day
HOURLY = {"accel_window_s": 3600.0}


def displacement(
    accel_mm_per_d2: Sequence[float], v0_mm_per_d: float = 20.0, dt_s: float = 60.0
) -> np.ndarray:
    """Cumulative displacement with acceleration ``accel[i]`` between readings i - 1 and i (exact)."""
    a = np.asarray(accel_mm_per_d2, dtype=float)
    dt_d = dt_s / DAY_S
    v = v0_mm_per_d + np.r_[0.0, np.cumsum(a[1:] * dt_d)]
    return np.r_[0.0, np.cumsum(0.5 * (v[1:] + v[:-1]) * dt_d)]


def run(
    x: Sequence[float], params: Mapping[str, Any] | None = None, dt_s: float = 60.0, state=None
) -> RuleOutput:
    rule = LandslideAcceleration()
    if state is None:
        state = rule.configure(rule.init_state(1), [dict(HOURLY if params is None else params)], ["gnss-1"])
    ts = T0 + (np.arange(len(x)) * dt_s * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of([0] * len(x), ts, np.asarray(x, dtype=float)))


@pytest.mark.parametrize(
    ("a", "level"),
    [
        (0.89, NORMAL),
        (0.9, BLUE),  # the first early-warning value, exactly at
        (0.91, BLUE),
        (4.49, BLUE),
        (4.5, YELLOW),
        (4.51, YELLOW),
        (8.99, YELLOW),
        (9.0, ORANGE),
        (9.01, ORANGE),
        (17.99, ORANGE),
        (18.0, RED),
        (18.01, RED),
    ],
)
def test_constant_acceleration_reaches_its_level(a: float, level: int) -> None:
    out = run(displacement([a] * 240))
    full = out.scores[-1]  # a over the full one-hour windows
    np.testing.assert_allclose(full, a, rtol=1e-7)
    assert out.levels[-1] == level
    assert (np.diff(out.levels) >= 0).all()


def test_levels_need_three_consecutive_readings_and_ready_windows() -> None:
    out = run(displacement([20.0] * 60))
    # the quarter-window scale (15 min + 15 min, ≥ 3 readings each over ≥ 7.5 min) is ready first
    ready = np.flatnonzero(np.isfinite(out.measures.per_level[:, 3]))[0]
    assert 15 <= ready <= 30
    assert out.levels[ready + 1] == NORMAL and out.levels[ready + 2] == RED


def test_levels_clear_below_eight_tenths_of_their_set_point() -> None:
    # orange at 10 mm/d² for 3 h, then 7.5 (≥ 0.8 × 9: holds orange), then 7.0 (< 7.2: yellow)
    x = displacement([10.0] * 180 + [7.5] * 180 + [7.0] * 180)
    out = run(x)
    assert out.levels[179] == ORANGE and out.levels[359] == ORANGE
    assert out.levels[-1] == YELLOW


def test_a_point_moving_upslope_or_back_from_a_reset_is_not_accelerating() -> None:
    assert (run(displacement([20.0] * 240, v0_mm_per_d=-40.0)).levels[:90] == NORMAL).all()
    # a meter re-zeroed: 30 mm → 0 mid-run; the window after it sees a fast "acceleration" back to creep
    x = displacement([0.0] * 240, v0_mm_per_d=5.0)
    x[120:] -= 30.0
    out = run(x)
    assert (out.levels == NORMAL).all()
    assert np.nanmax(out.measures.extra["a_0"]) > 18  # the raw estimate does jump: the gate holds it


def test_noise_alone_cannot_raise_a_level() -> None:
    # a still GNSS point with 1 mm noise, 10-min solutions, default 1-day windows, 12 days
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, 1728)
    out = run(x, params={}, dt_s=600.0)
    assert (out.levels == NORMAL).all()
    # the same noise on a point creeping at 5 mm/d
    out = run(x + displacement([0.0] * 1728, v0_mm_per_d=5.0, dt_s=600.0), params={}, dt_s=600.0)
    assert (out.levels == NORMAL).all()


def test_a_noisy_point_judges_high_levels_on_short_windows_and_low_ones_on_long() -> None:
    rng = np.random.default_rng(12)
    x = displacement([30.0] * 600, v0_mm_per_d=5.0, dt_s=600.0) + rng.normal(0.0, 1.0, 600)
    out = run(x, params={}, dt_s=600.0)
    e = out.measures.extra
    red_at = int(np.argmax(out.levels == RED))
    assert out.levels[red_at] == RED
    assert e["scale_level4"][red_at] >= 1  # red decided on a half or quarter window
    assert e["sigma_a_2"][-1] > e["sigma_a_1"][-1] > e["sigma_a_0"][-1]  # shorter windows are noisier


def test_early_and_critical_levels_hold_their_durations() -> None:
    params = {**HOURLY, "accel_persist_s": 1800, "accel_persist_critical_s": 600, "accel_persist_readings": 1}
    fast = run(displacement([20.0] * 120), params={**HOURLY, "accel_persist_readings": 1})
    slow = run(displacement([20.0] * 120), params=params)
    first = int(np.argmax(fast.levels == RED))
    assert int(np.argmax(slow.levels == RED)) == first + 10  # 600 s at one reading a minute
    blue = run(displacement([2.0] * 240), params=params)
    first_blue = int(
        np.argmax(run(displacement([2.0] * 240), params={**HOURLY, "accel_persist_readings": 1}).levels)
    )
    assert int(np.argmax(blue.levels == BLUE)) == first_blue + 30


def test_reason_names_the_rule_the_source_and_the_windows() -> None:
    rule = LandslideAcceleration()
    out = run(displacement([9.5] * 240))
    i = int(np.argmax(out.levels == ORANGE))
    ctx = rule.context(out.state, 0, "gh-gn-0003", "slope-7", ORANGE, NORMAL, out.measures, i)
    reason = rule.describe(ctx)
    assert reason.startswith("displacement acceleration 9.5 mm/d² at slope-7 ≥ orange acceleration 9 mm/d²")
    assert "Energies 2021" in reason and "[rule landslide_acceleration, sensor gh-gn-0003]" in reason
    assert "over the last 15 min" in reason and "3 consecutive readings" in reason
    assert rule.alert_value(ctx) == pytest.approx(9.5, rel=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"blue_mm_per_d2": 0},
        {"yellow_mm_per_d2": 0.5},
        {"accel_clear_ratio": 1.5},
        {"accel_min_points": 1},
        {"accel_window_s": 0.001},
        {"accel_noise_sigmas": -1},
        {"accel_persist_critical_s": -5},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = LandslideAcceleration()
    with pytest.raises(SensorParamError, match="gnss-9"):
        rule.configure(rule.init_state(1), [params], ["gnss-9"])
