"""antecedent_rainfall: R_e = Σ_{i=0..10} Kⁱ·R_i over trailing 24 h blocks (K = 0.85), for gauges that
serve a landslide-prone slope (``landslide_warning: 1``); blue ≥ 50 mm, yellow ≥ 100, orange ≥ 150,
red ≥ 200 ([P]), cleared below 0.9 × the set point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import AntecedentRainfall, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
T0 = 1_700_006_400_000  # on an hour boundary
SLOPE = {"landslide_warning": 1}


def run(readings: Sequence[tuple[int, float]], params: Mapping[str, Any] | None = None) -> RuleOutput:
    """``readings``: (ms after T0, mm since the previous reading)."""
    rule = AntecedentRainfall()
    state = rule.configure(rule.init_state(1), [dict(SLOPE if params is None else params)], ["rg-1"])
    ts = [T0 + t for t, _ in readings]
    return rule.evaluate(state, Batch.of([0] * len(readings), ts, [mm for _, mm in readings]))


def hourly(mm_per_hour: Sequence[float]) -> list[tuple[int, float]]:
    return [(i * HOUR_MS, mm) for i, mm in enumerate(mm_per_hour)]


@pytest.mark.parametrize(
    ("mm", "level"),
    [
        (49.9, NORMAL),
        (50.0, BLUE),
        (50.1, BLUE),
        (99.9, BLUE),
        (100.0, YELLOW),
        (100.1, YELLOW),
        (150.0, ORANGE),
        (199.9, ORANGE),
        (200.0, RED),
        (200.1, RED),
    ],
)
def test_one_days_rain_at_each_set_point(mm: float, level: int) -> None:
    out = run(hourly([mm / 4] * 4))  # all within the last 24 h: R_e = R_0
    np.testing.assert_allclose(out.scores[-1], mm, atol=1e-9)
    assert out.levels[-1] == level


def test_older_days_are_decayed_by_k_per_day() -> None:
    # 30 mm on each of three days: R_e = 30 (1 + 0.85 + 0.85²) = 77.175
    rain = ([30.0] + [0.0] * 23) * 3
    out = run(hourly(rain))
    np.testing.assert_allclose(out.scores[-1], 30.0 * 0.85**2 + 30.0 * 0.85 + 30.0, atol=1e-9)
    e = out.measures.extra
    assert (e["r0"][-1], e["r1"][-1], e["r_rest"][-1]) == (30.0, 30.0, 30.0)


def test_rain_older_than_ten_days_drops_out() -> None:
    readings = [(0, 120.0), (10 * DAY_MS, 0.0), (11 * DAY_MS, 0.0)]
    out = run(readings)
    np.testing.assert_allclose(out.scores[1], 120.0 * 0.85**10, atol=1e-9)
    assert out.scores[2] == 0.0


def test_levels_clear_below_nine_tenths_of_their_set_point() -> None:
    # 60 mm: blue; a day later 51 (blue); two days 43.35 < 45: normal
    out = run([(0, 60.0), (DAY_MS, 0.0), (2 * DAY_MS, 0.0)])
    np.testing.assert_allclose(out.scores, [60.0, 51.0, 43.35], atol=1e-9)
    assert out.levels.tolist() == [BLUE, BLUE, NORMAL]
    # 105 mm: yellow; a day later 89.25 < 90: blue
    out = run([(0, 105.0), (DAY_MS, 0.0)])
    assert out.levels.tolist() == [YELLOW, BLUE]


def test_only_gauges_serving_a_landslide_prone_slope_warn() -> None:
    out = run(hourly([60.0] * 4), params={})
    assert np.isnan(out.scores).all() and (out.levels == NORMAL).all()


def test_per_sensor_decay_and_set_points() -> None:
    out = run([(0, 60.0), (DAY_MS, 0.0)], params={**SLOPE, "antecedent_k": 0.5, "antecedent_blue_mm": 40.0})
    np.testing.assert_allclose(out.scores, [60.0, 30.0], atol=1e-9)
    assert out.levels.tolist() == [BLUE, NORMAL]


def test_negative_and_non_finite_increments_are_ignored() -> None:
    out = run([(0, 60.0), (HOUR_MS, -5.0), (2 * HOUR_MS, np.nan)])
    assert not out.measures.valid[1:].any() and out.levels.tolist() == [BLUE, BLUE, BLUE]


def test_reason_gives_the_days_and_the_risk() -> None:
    rule = AntecedentRainfall()
    out = run(hourly(([50.0] + [0.0] * 23) * 2 + [70.0]))
    i = len(out.levels) - 1
    ctx = rule.context(out.state, 0, "rf-rg-0003", "slope-12", YELLOW, BLUE, out.measures, i)
    reason = rule.describe(ctx)
    assert reason.startswith("effective rainfall R_e 148.6 mm at slope-12 ≥ yellow R_e 100 mm by 48.6 mm")
    assert "last 24 h 70 mm" in reason and "rain-triggered landslide risk" in reason
    assert "[rule antecedent_rainfall, sensor rf-rg-0003]" in reason


@pytest.mark.parametrize(
    "params",
    [
        {"landslide_warning": 2},
        {"antecedent_k": 0},
        {"antecedent_k": 1.5},
        {"antecedent_yellow_mm": 40.0},
        {"antecedent_clear_ratio": 0},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = AntecedentRainfall()
    with pytest.raises(SensorParamError, match="rg-9"):
        rule.configure(rule.init_state(1), [params], ["rg-9"])
