"""pipeline_night_minimum: during 02:00-05:00 local (UTC+8) a reading below the learned night minimum by
1 % (blue), 2 % (yellow), 5 % (orange), 10 % (red) of nominal, after 3 consecutive readings ([P])."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import PipelineNightMinimum, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
DAY_MS, HOUR_MS, STEP_MS = 86_400_000, 3_600_000, 600_000
DAY0 = 1_782_864_000_000  # 2026-07-01T00:00Z = 08:00 local (UTC+8)
DAY_KPA = 285.0  # daytime demand sags the pressure


def series(days: int, night: Callable[[int, int], float], start_h: float = 2.0, end_h: float = 5.0):
    """Readings every 10 min; ``night(k, j)`` is the j-th reading of the k-th local night window."""
    ts = DAY0 + STEP_MS * np.arange(days * DAY_MS // STEP_MS)
    local = ts + 8 * HOUR_MS
    hour = (local % DAY_MS) / HOUR_MS
    inside = (hour >= start_h) & (hour < end_h) if start_h < end_h else (hour >= start_h) | (hour < end_h)
    night_day = (local - int(start_h * HOUR_MS)) // DAY_MS  # local day on which the window started
    k = night_day - night_day[np.flatnonzero(inside)[0]]  # 0 = the first window with readings
    values = np.full(ts.size, DAY_KPA)
    j_of: dict[int, int] = {}
    for i in np.flatnonzero(inside):
        kk = int(k[i])
        values[i] = night(kk, j_of.get(kk, 0))
        j_of[kk] = j_of.get(kk, 0) + 1
    return ts, values, inside, k


def run(ts: np.ndarray, values: np.ndarray, params: Mapping[str, float] | None = None) -> RuleOutput:
    rule = PipelineNightMinimum()
    state = rule.configure(rule.init_state(1), [params or {}], ["gp-pp-1"])
    return rule.evaluate(state, Batch.of(np.zeros(ts.size), ts, values))


def fourth_night(kpa: float) -> tuple[RuleOutput, np.ndarray]:
    ts, values, inside, k = series(5, lambda kk, j: kpa if kk == 3 else 300.0)
    return run(ts, values), inside & (k == 3)


@pytest.mark.parametrize(
    ("kpa", "level"),
    [
        (297.03, NORMAL),  # 0.99 % below the learned 300 kPa
        (297.0, BLUE),  # 1 %, exactly at
        (296.97, BLUE),
        (294.0, YELLOW),  # 2 %
        (285.0, ORANGE),  # 5 %
        (270.03, ORANGE),
        (270.0, RED),  # 10 %
    ],
)
def test_levels_at_each_margin_once_three_nights_are_learned(kpa: float, level: int) -> None:
    out, night = fourth_night(kpa)
    idx = np.flatnonzero(night)
    assert set(out.levels[idx[:2]].tolist()) == {NORMAL}  # three consecutive readings
    assert out.levels[idx[2]] == level
    np.testing.assert_allclose(out.scores[idx], (300.0 - kpa) / 3.0, rtol=1e-9)


def test_nothing_before_three_nights_and_nothing_by_day() -> None:
    ts, values, _, _ = series(3, lambda kk, j: 250.0)  # cold: the first three nights teach the minimum
    out = run(ts, values)
    assert out.levels.max() == NORMAL and np.isnan(out.scores).all()
    ts, values, inside, _ = series(6, lambda kk, j: 300.0)
    values[~inside] = 150.0  # whatever happens by day is not this rule's business
    out = run(ts, values)
    assert out.levels.max() == NORMAL and np.isnan(out.scores[~inside]).all()


def test_the_learned_minimum_averages_the_nightly_minima() -> None:
    # nights at 301-302, 300.5-303, 302-304 (minima 301, 300.5, 302 → 301.1667); night 4 at 298.15
    mins = [301.0, 300.5, 302.0]
    ts, values, inside, k = series(5, lambda kk, j: mins[kk] + (j % 3) if kk < 3 else 298.15)
    out = run(ts, values)
    learned = float(np.mean(mins))
    night4 = np.flatnonzero(inside & (k == 3))
    np.testing.assert_allclose(out.scores[night4], (learned - 298.15) / 3.0, rtol=1e-9)
    assert out.levels[night4[2]] == BLUE  # 1.0056 % below 301.17 kPa


def test_a_disturbed_night_is_not_learned() -> None:
    ts, values, _, _ = series(6, lambda kk, j: 290.0 if kk == 3 else 300.0)
    out = run(ts, values)
    assert int(out.state["learned_nights"][0]) == 5  # nights 0, 1, 2, 4 and 5; not the leak night 3
    assert float(out.state["learned_min"][0]) == pytest.approx(300.0)


def test_a_night_alarm_holds_through_the_day_and_clears_the_next_night() -> None:
    ts, values, inside, k = series(6, lambda kk, j: 293.0 if kk == 3 else 300.0)
    out = run(ts, values)
    n3, n4 = np.flatnonzero(inside & (k == 3)), np.flatnonzero(inside & (k == 4))
    assert out.levels[n3[-1]] == YELLOW
    assert set(out.levels[n3[-1] : n4[0]].tolist()) == {YELLOW}  # the day in between
    assert out.levels[n4[0]] == NORMAL


def test_hysteresis_half_a_percent() -> None:
    seq = [294.0, 294.0, 294.0, 295.5, 295.53, 298.5, 298.53]
    ts, values, inside, k = series(5, lambda kk, j: seq[j] if kk == 3 and j < len(seq) else 300.0)
    out = run(ts, values)
    idx = np.flatnonzero(inside & (k == 3))[: len(seq)]
    assert out.levels[idx].tolist() == [NORMAL, NORMAL, YELLOW, YELLOW, BLUE, BLUE, NORMAL]


def test_a_window_across_midnight() -> None:
    p = {"night_start_h": 23.0, "night_end_h": 1.0}
    ts, values, inside, k = series(5, lambda kk, j: 294.0 if kk == 3 else 300.0, start_h=23.0, end_h=1.0)
    out = run(ts, values, p)
    idx = np.flatnonzero(inside & (k == 3))
    assert idx.size == 12 and out.levels[idx[2]] == YELLOW and out.levels[: idx[0]].max() == NORMAL


def test_batching_does_not_change_anything() -> None:
    ts, values, _, _ = series(5, lambda kk, j: 290.0 + j if kk == 3 else 300.0 + (j % 4) * 0.1)
    rule = PipelineNightMinimum()
    cold = rule.configure(rule.init_state(1), [{}], ["gp-pp-1"])
    whole = rule.evaluate(cold, Batch.of(np.zeros(ts.size), ts, values))
    for cuts in ([1, 2, 3, 100, 101, 400], list(range(0, ts.size, 7))):
        state, levels = cold, []
        for a, b in itertools.pairwise([0, *cuts, ts.size]):
            if b <= a:
                continue
            out = rule.evaluate(state, Batch.of(np.zeros(b - a), ts[a:b], values[a:b]))
            levels += out.levels.tolist()
            state = out.state
        assert levels == whole.levels.tolist()
        for key in whole.state:
            np.testing.assert_array_equal(state[key], whole.state[key], err_msg=key)
    assert whole.levels.max() >= YELLOW


@pytest.mark.parametrize(
    "params",
    [
        {"night_start_h": 24.0},
        {"night_start_h": 3.0, "night_end_h": 3.0},
        {"utc_offset_h": 15.0},
        {"night_yellow_pct": 0.5},
        {"night_clear_margin_pct": 1.0},
        {"min_nights": 0},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, float]) -> None:
    rule = PipelineNightMinimum()
    with pytest.raises(SensorParamError, match="gp-pp-9"):
        rule.configure(rule.init_state(1), [params], ["gp-pp-9"])


def test_reason_gives_the_window_the_learned_minimum_and_the_shortfall() -> None:
    out, night = fourth_night(293.4)
    rule = PipelineNightMinimum()
    i = int(np.flatnonzero(night)[2])
    reason = rule.describe(
        rule.context(out.state, 0, "gp-pp-0002", "dn500-main-1", YELLOW, NORMAL, out.measures, i)
    )
    assert reason.startswith(
        "shortfall below the night minimum 2.2 % at dn500-main-1 ≥ yellow margin 2 % by 0.2 %"
    )
    assert (
        "293.4 kPa in the night window 02:00-05:00 UTC+8, learned night minimum 300 kPa (3 nights)" in reason
    )
    assert reason.endswith("normal → yellow [rule pipeline_night_minimum, sensor gp-pp-0002]")
