"""Geohazard rules: landslide warning by the improved tangent angle (Xu Qiang et al., 2009).

Velocity normalisation turns cumulative displacement S(t) into a time-like ordinate T = S / v̄, where v̄
is the rate of the constant-velocity (secondary creep) stage; the tangent angle of the T-t curve is
α = arctan(v / v̄), so α = 45° at constant velocity. Criteria ([S] per domain-thresholds.md §3.1, Table 1
of the EURASIP JWCN 2021 paper quoting Xu Qiang's criteria): constant velocity (α ≈ 45°) → blue,
initial acceleration 45° < α < 80° → yellow, mid acceleration 80° ≤ α < 85° → orange, critical sliding
α ≥ 85° → red. Paper reference: 许强 等, 地质通报 2009, 28(4):501-505 ([M], bibliographic details from
memory).

* **Smoothing.** v is the least-squares slope of displacement over the trailing ``fit_window_s``
  (raw GNSS noise makes point-to-point angles jump above 80°, §3.1 practical notes), from time bins of
  sufficient statistics (:mod:`detectors.domain.geohazard_fit`), so any reporting rate fills the window.
* **v̄ per point.** The registry's ``v_bar_mm_per_h`` overrides; when it is absent or 0, v̄ is the median
  of the point's own window velocities over a stable period (one per eighth of a window while the point
  is not accelerating; §3.1: "v̄ must be estimated per monitoring point from a fitted constant-velocity
  segment"). The rule is inactive while v̄ is below the noise floor: the ``noise_floor_mm_per_h`` set
  point, and for an estimated v̄ also the velocity noise of the fit (the yellow angle must sit at least
  ``noise_sigmas`` standard errors above v̄), so a stable slope is never red.
* **Persistence.** A level is raised after ``persist_readings`` consecutive readings at or above its
  angle, held for ``persist_s`` seconds, while the velocity is not significantly falling (§3.1: "α ≥ 85°
  for N consecutive samples together with acceleration a > 0"; this also keeps a rain-induced step, whose
  smoothed velocity rises and falls again within a window, from being called an acceleration stage).
* **Time to failure.** At orange and red the reason carries the inverse-velocity (Fukuzono 1985) failure
  time: a least-squares line of 1/v against t over the current acceleration run, t_f where 1/v reaches 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.geohazard_fit import FitBins
from detectors.domain.policy import SET_POINT_RTOL, LevelThresholds
from detectors.domain.ring import EMPTY_TS, NO_BIN
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    level_label,
    readings_text,
)
from detectors.rows import put_rows, take_rows

#: history entries per fit window (one velocity kept per eighth of a window)
HISTORY_PER_WINDOW = 8
#: the trend gate compares with the velocity this many history entries (a quarter window) earlier
TREND_LAG_ENTRIES = 2
#: the trend gate tolerates a fall of this many standard errors of the velocity (noise)
TREND_TOLERANCE_SIGMAS = 2.0
HOUR_MS = 3_600_000


def when_text(ts_ms: float) -> str:
    """``2026-07-08 14:20 UTC``."""
    return datetime.fromtimestamp(ts_ms / 1000.0, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``6.5 h``, ``2.3 d``."""
    s = abs(float(seconds))
    if s < 120:
        return f"{fmt(s, 0)} s"
    if s < 7200:
        return f"{fmt(s / 60, 0)} min"
    if s < 172_800:
        return f"{fmt(s / 3600, 1)} h"
    return f"{fmt(s / 86_400, 1)} d"


def at_or_above(x: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``x ≥ points`` with the latch's slack (NaN never)."""
    with np.errstate(invalid="ignore"):
        return x >= points - SET_POINT_RTOL * np.maximum(np.abs(points), 1.0)


def time_persisted(
    since: NDArray[np.int64],
    cond: NDArray[np.bool_],
    now: NDArray[np.int64],
    early_s: NDArray[np.float64],
    critical_s: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per level (``(m, 4)``): new run starts, and whether each condition has held long enough.

    Blue and yellow must hold ``early_s`` seconds, orange and red ``critical_s``: a rain-induced step
    reaches the early angles for a while and then stops, whereas a step large enough to reach the
    critical ones is itself an event, and the final stage of a failure leaves no time to wait.
    """
    new_since = np.where(cond, np.where(since == EMPTY_TS, now[:, None], since), EMPTY_TS)
    hold_ms = np.stack([early_s, early_s, critical_s, critical_s], axis=1) * 1000.0
    held = cond & ((now[:, None] - new_since) >= hold_ms)
    return new_since, held


@dataclass(frozen=True, slots=True)
class LandslideTangentAngleParams:
    """Ring sizes are rule-wide (they shape the state); the rest are per-sensor defaults."""

    slots_per_window: int = 20
    history_slots: int = 48
    stable_slots: int = 64
    v_bar_mm_per_h: float = 0.0
    fit_window_s: float = 600.0
    min_points: float = 10
    noise_floor_mm_per_h: float = 0.05
    noise_sigmas: float = 4.0
    margin_deg: float = 10.0
    orange_deg: float = 80.0
    red_deg: float = 85.0
    hysteresis_deg: float = 2.0
    persist_readings: float = 3
    persist_s: float = 0.0
    persist_critical_s: float = 0.0
    rising_gate: float = 1.0
    creep_blue: float = 0.0
    vbar_min_windows: float = 16
    ivel_min_points: float = 10

    def __post_init__(self) -> None:
        if self.slots_per_window < 1 or self.history_slots < TREND_LAG_ENTRIES + 1 or self.stable_slots < 1:
            raise ValueError("slots_per_window ≥ 1, history_slots ≥ 3 and stable_slots ≥ 1 are needed")


class LandslideTangentAngle(DomainRule[LandslideTangentAngleParams]):
    """Improved tangent angle α = degrees(arctan(v / v̄)) of cumulative displacement (module docstring).

    Score: α in degrees; NaN (rule inactive, level normal) while v̄ is unknown or below the noise floor,
    or while the fit window holds fewer than ``min_points`` readings or spans less than half of
    ``fit_window_s``. Levels fall below their angle minus ``hysteresis_deg``. Non-finite readings change
    nothing.
    """

    name = "landslide_tangent_angle"
    kinds: ClassVar[tuple[str, ...]] = ("gnss_displacement", "crack_meter")
    source = "improved tangent angle, Xu Qiang et al. 2009"
    unit = "°"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "v_bar_mm_per_h",
        "fit_window_s",
        "min_points",
        "noise_floor_mm_per_h",
        "noise_sigmas",
        "margin_deg",
        "orange_deg",
        "red_deg",
        "hysteresis_deg",
        "persist_readings",
        "persist_s",
        "persist_critical_s",
        "rising_gate",
        "creep_blue",
        "vbar_min_windows",
        "ivel_min_points",
    )
    count_keys: ClassVar[tuple[str, ...]] = (
        "min_points",
        "persist_readings",
        "vbar_min_windows",
        "ivel_min_points",
    )

    def __init__(self, params: LandslideTangentAngleParams | None = None) -> None:
        super().__init__(params or LandslideTangentAngleParams())
        k = self.params.slots_per_window
        self.bins = FitBins("ta_fit", k, windows=((0, k),))

    @classmethod
    def conformance_examples(cls) -> Sequence[LandslideTangentAngle]:
        # tiny rings and windows: warm within a few readings, small enough for a million sensors
        tiny = {"slots_per_window": 2, "history_slots": 3, "stable_slots": 2, "fit_window_s": 60.0}
        return (
            cls(LandslideTangentAngleParams(**tiny, v_bar_mm_per_h=1.0, min_points=3)),
            cls(LandslideTangentAngleParams(**tiny, min_points=2, vbar_min_windows=1, noise_sigmas=0.0)),
        )

    # --- state ---------------------------------------------------------------------------------------

    def _init_measure_state(self, capacity: int) -> State:
        h, s = self.params.history_slots, self.params.stable_slots
        state = self.bins.init_state(capacity)
        state.update(
            {
                "ta_h_bin": np.full((capacity, h), NO_BIN, dtype=np.int64),
                "ta_h_ts": np.full((capacity, h), EMPTY_TS, dtype=np.int64),
                "ta_h_v": np.full((capacity, h), np.nan, dtype=np.float64),
                "ta_h_alpha": np.full((capacity, h), np.nan, dtype=np.float64),
                "ta_s_v": np.full((capacity, s), np.nan, dtype=np.float64),
                "ta_s_sigma": np.full((capacity, s), np.nan, dtype=np.float64),
                "ta_s_count": np.zeros(capacity, dtype=np.int64),
                "ta_s_last_bin": np.full(capacity, NO_BIN, dtype=np.int64),
                "ta_since": np.full((capacity, 4), EMPTY_TS, dtype=np.int64),
            }
        )
        return state

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        yellow = 45.0 + state["sp_margin_deg"]
        orange, red = state["sp_orange_deg"], state["sp_red_deg"]
        window_ms = state["sp_fit_window_s"] * 1000.0
        flags = ("rising_gate", "creep_blue")
        checks = [
            (state["sp_v_bar_mm_per_h"] < 0, "needs v_bar_mm_per_h ≥ 0"),
            (window_ms < self.params.slots_per_window * HISTORY_PER_WINDOW, "needs a longer fit_window_s"),
            (state["sp_min_points"] < 2, "needs min_points ≥ 2"),
            (
                (yellow <= 45) | (yellow > orange) | (orange > red) | (red >= 90),
                "needs 45 < 45 + margin_deg ≤ orange_deg ≤ red_deg < 90",
            ),
            (
                (state["sp_hysteresis_deg"] < 0) | (state["sp_hysteresis_deg"] >= state["sp_margin_deg"]),
                "needs 0 ≤ hysteresis_deg < margin_deg",
            ),
            (state["sp_noise_floor_mm_per_h"] < 0, "needs noise_floor_mm_per_h ≥ 0"),
            (state["sp_noise_sigmas"] < 0, "needs noise_sigmas ≥ 0"),
            (
                (state["sp_persist_s"] < 0) | (state["sp_persist_critical_s"] < 0),
                "needs persist_s ≥ 0 and persist_critical_s ≥ 0",
            ),
            (
                state["sp_vbar_min_windows"] > self.params.stable_slots,
                "needs vbar_min_windows ≤ stable_slots",
            ),
            (state["sp_ivel_min_points"] < 3, "needs ivel_min_points ≥ 3"),
        ]
        checks += [(~np.isin(state[f"sp_{k}"], (0.0, 1.0)), f"needs {k} 0 or 1") for k in flags]
        self._reject_first_bad(checks, labels)

    # --- measure -------------------------------------------------------------------------------------

    def _set_points(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.float64]:
        margin = state["sp_margin_deg"][rows]
        blue = np.where(state["sp_creep_blue"][rows] == 1.0, 45.0 - margin, np.nan)
        return np.stack(
            [blue, 45.0 + margin, state["sp_orange_deg"][rows], state["sp_red_deg"][rows]], axis=1
        )

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x)
        cols = {
            k: np.full(n, np.nan)
            for k in ("v", "sigma_v", "v_bar", "tf_h", "ivel_r2", "stable_median", "noise_v")
        }
        ints = {
            k: np.zeros(n, dtype=np.int64)
            for k in ("points", "span_ms", "stable", "ivel_points", "now", "why")
        }
        estimated = np.zeros(n, dtype=bool)
        alpha = np.full(n, np.nan)
        gate = np.ones((n, 4), dtype=bool)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                r = batch.rows[ok]
                bin_ms = self._window_ms(state, r) // self.params.slots_per_window
                self.bins.push(state, r, batch.ts_ms[ok], x[ok], bin_ms)
            self._step(state, batch.rows[idx], idx, valid[idx], cols, ints, estimated, alpha, gate)
        return Measures(
            score=np.where(valid, alpha, np.nan),
            per_level=np.repeat(alpha[:, None], 4, axis=1),
            valid=valid,
            gate=gate,
            extra={
                "v_mm_per_h": cols["v"],
                "sigma_v_mm_per_h": cols["sigma_v"],
                "v_bar_mm_per_h": cols["v_bar"],
                "v_bar_estimated": estimated,
                "stable_windows": ints["stable"],
                "noise_floor_v_mm_per_h": cols["noise_v"],
                "points": ints["points"],
                "span_ms": ints["span_ms"],
                "now_ms": ints["now"],
                "inactive_why": ints["why"],
                "tf_h": cols["tf_h"],
                "ivel_points": ints["ivel_points"],
                "ivel_r2": cols["ivel_r2"],
            },
        )

    def _window_ms(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.int64]:
        return (state["sp_fit_window_s"][rows] * 1000.0).astype(np.int64)

    def _step(
        self,
        state: State,
        rows: NDArray[np.int32],
        idx: NDArray[np.int64],
        valid: NDArray[np.bool_],
        cols: dict[str, NDArray[np.float64]],
        ints: dict[str, NDArray[np.int64]],
        estimated: NDArray[np.bool_],
        alpha_out: NDArray[np.float64],
        gate_out: NDArray[np.bool_],
    ) -> None:
        """Everything after the push for one step (rows unique); writes the per-reading outputs."""
        sp = {k: state[f"sp_{k}"][rows] for k in self.sensor_keys}
        window_ms = self._window_ms(state, rows)
        fit = self.bins.fit(state, rows, 0, self.params.slots_per_window)
        v = fit.slope * 3600.0
        sigma_v = np.nan_to_num(fit.sigma_slope * 3600.0, nan=0.0)
        now = self.bins.newest(state, rows)
        window_ok = (fit.points >= sp["min_points"]) & (fit.span_ms * 2 >= window_ms) & np.isfinite(v)

        # v̄: the registry's value, else the median of the stable window velocities
        count = state["ta_s_count"][rows]
        med_v = _ring_median(state["ta_s_v"], rows, count)
        med_sigma = _ring_median(state["ta_s_sigma"], rows, count)
        override = sp["v_bar_mm_per_h"] > 0
        learned = count >= sp["vbar_min_windows"]
        v_bar = np.where(override, sp["v_bar_mm_per_h"], np.where(learned, med_v, np.nan))
        yellow_ratio = np.tan(np.radians(45.0 + sp["margin_deg"])) - 1.0
        noise_v = np.where(override, 0.0, sp["noise_sigmas"] * np.nan_to_num(med_sigma) / yellow_ratio)
        with np.errstate(invalid="ignore"):
            floor_ok = (v_bar >= sp["noise_floor_mm_per_h"]) & (v_bar > 0) & (v_bar >= noise_v)
            active = window_ok & floor_ok
            alpha = np.where(active, np.degrees(np.arctan(v / v_bar)), np.nan)
        why = np.select([active, ~override & ~learned, ~floor_ok], [0, 1, 2], 3)
        set_points = self._set_points(state, rows)

        # history: one velocity per eighth of a window, for the trend gate and the inverse-velocity fit
        h_ms = np.maximum(window_ms // HISTORY_PER_WINDOW, 1)
        hb = np.where(now != EMPTY_TS, now // h_ms, NO_BIN)
        v_lag = self._lagged_velocity(state, rows, hb)
        with np.errstate(invalid="ignore"):
            slack = TREND_TOLERANCE_SIGMAS * sigma_v + 1e-6 * np.abs(v_lag)  # noise, then rounding
            not_falling = ~(v < v_lag - slack)  # NaN (unknown) passes
        rising = np.where(sp["rising_gate"] == 1.0, not_falling, True)
        cond = active[:, None] & at_or_above(alpha[:, None], set_points)
        cond[:, 1:] &= rising[:, None]
        upd = valid
        since, held = time_persisted(
            take_rows(state["ta_since"], rows), cond, now, sp["persist_s"], sp["persist_critical_s"]
        )
        put_rows(state["ta_since"], rows[upd], since[upd])
        gate = held  # blue (steady creep) has no trend gate, only its persistence

        w = upd & window_ok & (hb != NO_BIN)
        # a window's slope is the velocity about its mean reading time, not its newest: date it there
        mid = now + np.nan_to_num(fit.t_mean_s * 1000.0).astype(np.int64)
        self._record_history(state, rows[w], hb[w], mid[w], v[w], alpha[w])
        self._learn_stable(state, rows[w], hb[w], v[w], sigma_v[w], alpha[w], sp["margin_deg"][w], learned[w])

        need = active & at_or_above(alpha, set_points[:, 2])
        if need.any():
            tf_h, pts, r2 = self._inverse_velocity(
                state, rows[need], hb[need], now[need], set_points[need, 1]
            )
            sub = idx[need]
            cols["tf_h"][sub] = tf_h
            ints["ivel_points"][sub] = pts
            cols["ivel_r2"][sub] = r2
        cols["v"][idx] = v
        cols["sigma_v"][idx] = sigma_v
        cols["v_bar"][idx] = v_bar
        cols["stable_median"][idx] = med_v
        cols["noise_v"][idx] = np.maximum(noise_v, sp["noise_floor_mm_per_h"])
        ints["points"][idx] = fit.points
        ints["span_ms"][idx] = fit.span_ms
        ints["stable"][idx] = np.minimum(count, self.params.stable_slots)
        ints["now"][idx] = now
        ints["why"][idx] = why
        estimated[idx] = ~override
        alpha_out[idx] = alpha
        gate_out[idx] = gate

    def _lagged_velocity(
        self, state: State, rows: NDArray[np.int32], hb: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """The newest history velocity at least a quarter window older than the current entry (or NaN).

        History entry ``b`` lives in slot ``b % history_slots``, so the newest entry of lag ≥ 2 is found
        by trying the first few lags for the rows not yet resolved (a sensor that reports steadily
        resolves at the first try); the rest are searched over their whole history.
        """
        h = self.params.history_slots
        out = np.full(rows.size, np.nan)
        todo = np.flatnonzero(hb != NO_BIN)
        bins, vs = state["ta_h_bin"], state["ta_h_v"]
        for lag in range(TREND_LAG_ENTRIES, min(TREND_LAG_ENTRIES + 3, h)):
            if todo.size == 0:
                return out
            want = hb[todo] - lag
            slot = want % h
            r = rows[todo]
            hit = bins[r, slot] == want
            out[todo[hit]] = vs[r[hit], slot[hit]]
            todo = todo[~hit]
        if todo.size:  # gaps or a short history: the newest entry in (hb - h, hb - lag]
            r, b = rows[todo], hb[todo]
            held = take_rows(bins, r).T.copy()  # slots first: the maximum runs over whole rows of sensors
            cand = (held != NO_BIN) & (held <= b - TREND_LAG_ENTRIES) & (held > b - h)
            newest = np.where(cand, held, NO_BIN).max(axis=0)  # entries are distinct bin numbers
            found = newest != NO_BIN
            out[todo[found]] = vs[r[found], newest[found] % h]
        return out

    def _record_history(
        self,
        state: State,
        rows: NDArray[np.int32],
        hb: NDArray[np.int64],
        now: NDArray[np.int64],
        v: NDArray[np.float64],
        alpha: NDArray[np.float64],
    ) -> None:
        slot = hb % self.params.history_slots
        newer = state["ta_h_bin"][rows, slot] <= hb
        r, s = rows[newer], slot[newer]
        state["ta_h_bin"][r, s] = hb[newer]
        state["ta_h_ts"][r, s] = now[newer]
        state["ta_h_v"][r, s] = v[newer]
        state["ta_h_alpha"][r, s] = alpha[newer]

    def _learn_stable(
        self,
        state: State,
        rows: NDArray[np.int32],
        hb: NDArray[np.int64],
        v: NDArray[np.float64],
        sigma_v: NDArray[np.float64],
        alpha: NDArray[np.float64],
        margin: NDArray[np.float64],
        learned: NDArray[np.bool_],
    ) -> None:
        """Keep one window velocity per history entry while the point is not accelerating.

        Until v̄ is learned every entry counts; after that only entries whose angle stays below
        45° + margin/2, so an acceleration stage never raises its own baseline.
        """
        with np.errstate(invalid="ignore"):
            calm = ~learned | ~(alpha >= 45.0 + margin / 2.0)
        take = (hb > state["ta_s_last_bin"][rows]) & calm
        r = rows[take]
        count = state["ta_s_count"][r]
        slot = count % self.params.stable_slots
        state["ta_s_v"][r, slot] = v[take]
        state["ta_s_sigma"][r, slot] = sigma_v[take]
        state["ta_s_count"][r] = count + 1
        state["ta_s_last_bin"][r] = hb[take]

    def _inverse_velocity(
        self,
        state: State,
        rows: NDArray[np.int32],
        hb: NDArray[np.int64],
        now: NDArray[np.int64],
        yellow: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        """Fukuzono (1985): line of 1/v against t over the current acceleration run of history entries.

        The run is the unbroken sequence of history entries, newest first, whose angle reached the yellow
        angle. Returns (hours from the newest reading to t_f, points, R²); t_f is NaN with fewer than
        ``ivel_min_points`` points or when 1/v is not falling.
        """
        h = self.params.history_slots
        want = hb[:, None] - np.arange(h)[None, :]
        slot = want % h
        r2d = rows[:, None]
        present = state["ta_h_bin"][r2d, slot] == want
        v = state["ta_h_v"][r2d, slot]
        with np.errstate(invalid="ignore"):
            flagged = present & at_or_above(state["ta_h_alpha"][r2d, slot], yellow[:, None]) & (v > 0)
        run = np.cumprod(flagged, axis=1).astype(bool)
        k = run.sum(axis=1)
        t = np.where(run, (state["ta_h_ts"][r2d, slot] - now[:, None]) / HOUR_MS, 0.0)
        y = np.where(run, 1.0 / np.where(run, v, 1.0), 0.0)  # h/mm
        with np.errstate(invalid="ignore", divide="ignore"):
            kf = k.astype(np.float64)
            st, sy = t.sum(axis=1), y.sum(axis=1)
            stt = (t * t).sum(axis=1) - st * st / kf
            sty = (t * y).sum(axis=1) - st * sy / kf
            syy = (y * y).sum(axis=1) - sy * sy / kf
            slope = sty / stt
            intercept = sy / kf - slope * st / kf  # 1/v at the newest reading (t = 0)
            r2 = np.where(syy > 0, sty * sty / (stt * syy), np.nan)
            enough = k >= state["sp_ivel_min_points"][rows]
            tf_h = np.where(enough & (slope < 0) & (stt > 0), -intercept / slope, np.nan)
        return tf_h, k.astype(np.int64), np.where(enough, r2, np.nan)

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = self._set_points(state, rows)
        clear = set_points - state["sp_hysteresis_deg"][rows][:, None]
        return LevelThresholds(set_points, clear, state["sp_persist_readings"][rows])

    # --- explanation ---------------------------------------------------------------------------------

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        v_bar = float(e["v_bar_mm_per_h"])
        origin = (
            f"estimated from {int(e['stable_windows'])} stable windows"
            if e["v_bar_estimated"]
            else "registry v_bar_mm_per_h"
        )
        if not math.isfinite(ctx.score):
            why = self._inactive_why(e, sp, v_bar)
            return (
                f"tangent angle not computable at {ctx.where}: {why}; level cleared "
                f"({self.source}); {level_label(ctx.previous)} → {level_label(ctx.level)} "
                f"[rule {self.name}, sensor {ctx.sensor_id}]"
            )
        ratio = e["v_mm_per_h"] / v_bar
        detail = (
            f"; v {fmt(e['v_mm_per_h'], 3)} mm/h = {fmt(ratio, 1)} × v̄ {fmt(v_bar, 3)} mm/h ({origin}) "
            f"over {readings_text(e['points'])} in {duration_text(sp['fit_window_s'])}"
        )
        if ctx.rising:
            hold_s = sp["persist_s"] if ctx.level <= 2 else sp["persist_critical_s"]
            held = f", held {duration_text(hold_s)}" if hold_s > 0 else ""
            detail += f", {int(ctx.sustain)} consecutive readings{held}"
        if ctx.level >= 3 and ctx.rising:
            detail += "; " + self._failure_text(e, sp)
        names = ("constant-velocity angle", "initial-acceleration angle", "mid-acceleration angle")
        return change_reason(
            ctx,
            self.name,
            what=("tangent angle",) * 4,
            set_names=(*names, "critical-sliding angle"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=1,
        )

    @staticmethod
    def _inactive_why(e: dict, sp: dict, v_bar: float) -> str:
        why = int(e["inactive_why"])
        if why == 1:
            return (
                f"v̄ not yet estimated ({int(e['stable_windows'])} of {int(sp['vbar_min_windows'])} "
                "stable windows)"
            )
        if why == 2:
            floor = float(e["noise_floor_v_mm_per_h"])
            return f"v̄ {fmt(v_bar, 3)} mm/h is below the noise floor {fmt(floor, 3)} mm/h"
        return (
            f"{readings_text(e['points'])} spanning {duration_text(e['span_ms'] / 1000)} in the "
            f"{duration_text(sp['fit_window_s'])} fit window (needs ≥ {int(sp['min_points'])} "
            f"readings over ≥ {duration_text(sp['fit_window_s'] / 2)})"
        )

    @staticmethod
    def _failure_text(e: dict, sp: dict) -> str:
        pts = int(e["ivel_points"])
        tf_h = float(e["tf_h"])
        if pts < int(sp["ivel_min_points"]):
            return (
                f"inverse velocity (Fukuzono 1985): {pts} of {int(sp['ivel_min_points'])} points of "
                "acceleration, too few to estimate a failure time"
            )
        if not math.isfinite(tf_h):
            return f"inverse velocity (Fukuzono 1985): 1/v not falling over {pts} points, no failure time"
        tf_ms = float(e["now_ms"]) + max(tf_h, 0.0) * HOUR_MS
        lead = "already due" if tf_h <= 0 else f"{duration_text(tf_h * 3600)} after this reading"
        return (
            f"inverse velocity (Fukuzono 1985): failure time t_f ≈ {when_text(tf_ms)}, {lead} "
            f"(1/v fit over {pts} points, R² {fmt(float(e['ivel_r2']), 2)})"
        )


def _ring_median(
    ring: NDArray[np.float64], rows: NDArray[np.int32], count: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Median of the finite values of each row of ``ring[rows]`` (NaN for none), a ring written in slot
    order (``count`` entries so far per row).

    Until a row's ring wraps only its first ``count`` slots were ever written (the others are NaN), so
    only the first ``max(count)`` columns are read; full rings take a partition instead of a sort.
    """
    slots = ring.shape[1]
    top = int(min(int(count.max()), slots)) if rows.size else 0
    if top == 0:
        return np.full(rows.size, np.nan)
    a = ring[rows, :top] if top < slots else ring[rows]
    k = np.isfinite(a).sum(axis=1)
    if top == slots and bool(np.all(k == slots)):
        lo, hi = (slots - 1) // 2, slots // 2
        part = np.partition(a, (lo, hi), axis=1)
        return 0.5 * (part[:, lo] + part[:, hi])
    s = np.sort(a, axis=1)  # NaN sort last
    lo = np.maximum((k - 1) // 2, 0)
    hi = np.maximum(k // 2, 0)
    at = np.arange(a.shape[0])
    return np.where(k > 0, 0.5 * (s[at, lo] + s[at, hi]), np.nan)
