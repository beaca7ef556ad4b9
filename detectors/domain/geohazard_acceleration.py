"""Geohazard rule: displacement acceleration of a landslide point (mm/d²).

a = Δv/Δt on the smoothed displacement series (domain-thresholds.md §3.2): v is the least-squares slope
over each of two back-to-back windows (the trailing one and the one before it), Δt the distance between
their mean reading times. The first early-warning value 0.9 mm/d² is from the inverse-logistic stage
method, Energies 2021, 14(4):1091 ([S], a daily-data method, hence the 1 d default window). The higher
levels follow the 1×/5×/10× multiples of a baseline used by a public prototype (wcqqq1214/Landslide-
Warning, [S-code]) with red at 20×: all [P], per-sensor set points.

**Scales.** Long windows measure a small acceleration precisely but late; the final stage of a failure
needs short windows. The rule estimates a over back-to-back windows of ``accel_window_s`` and of a half
and a quarter of it. Each level compares the shortest scale whose a reaches the level's set point *and*
is significant (at least ``accel_noise_sigmas`` standard errors σ_a above zero, σ_a from the residuals
of the two fits), else the full-window a. So 0.9 mm/d² is in practice judged over days on a noisy GNSS
point, 18 mm/d² over hours, and noise alone cannot raise a level at any scale.

A point must also be moving downslope (trailing v > 0) and not be coming back from a negative rate (a
re-zeroed meter). A level is raised after ``accel_persist_readings`` consecutive readings, held for
``accel_persist_s`` (blue, yellow) or ``accel_persist_critical_s`` (orange, red) seconds - a rain-induced
step accelerates and decelerates again within about a window, a sustained acceleration does not - and
falls below ``accel_clear_ratio`` × its set point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.geohazard import at_or_above, duration_text, time_persisted
from detectors.domain.geohazard_fit import FitBins
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
    level_label,
    measure_at,
)
from detectors.rows import put_rows, take_rows

DAY_S = 86_400.0
LEVEL_KEYS = ("blue_mm_per_d2", "yellow_mm_per_d2", "orange_mm_per_d2", "red_mm_per_d2")
#: window divisors tried, longest window first
SCALE_DIVISORS = (1, 2, 4)
_SCALE_FIELDS = ("a", "sigma_a", "v_recent", "v_prior", "n_recent", "n_prior")


@dataclass(frozen=True, slots=True)
class LandslideAccelerationParams:
    """``slots_per_window`` is rule-wide (it shapes the state); the rest are per-sensor defaults.

    Scales whose divisor does not divide ``slots_per_window`` are not used.
    """

    slots_per_window: int = 12
    accel_window_s: float = DAY_S
    accel_min_points: float = 10
    blue_mm_per_d2: float = 0.9
    yellow_mm_per_d2: float = 4.5
    orange_mm_per_d2: float = 9.0
    red_mm_per_d2: float = 18.0
    accel_clear_ratio: float = 0.8
    accel_noise_sigmas: float = 4.0
    accel_persist_readings: float = 3
    accel_persist_s: float = 0.0
    accel_persist_critical_s: float = 0.0

    def __post_init__(self) -> None:
        if self.slots_per_window < 1:
            raise ValueError(f"slots_per_window must be ≥ 1, got {self.slots_per_window}")


class LandslideAcceleration(DomainRule[LandslideAccelerationParams]):
    """Acceleration of cumulative displacement between back-to-back smoothing windows (module docstring).

    Score: a in mm/d² over the full ``accel_window_s`` windows; each level compares the a of its own
    scale (``Measures.per_level``). NaN (level normal) until a scale's windows each hold
    ``accel_min_points`` readings spanning at least half the window. ``min_points`` counts per full
    window and scales down with the window.
    """

    name = "landslide_acceleration"
    kinds: ClassVar[tuple[str, ...]] = ("gnss_displacement", "crack_meter")
    source = "displacement acceleration, first early-warning value 0.9 mm/d² (Energies 2021, 14(4):1091)"
    unit = "mm/d²"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "accel_window_s",
        "accel_min_points",
        *LEVEL_KEYS,
        "accel_clear_ratio",
        "accel_noise_sigmas",
        "accel_persist_readings",
        "accel_persist_s",
        "accel_persist_critical_s",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("accel_min_points", "accel_persist_readings")

    def __init__(self, params: LandslideAccelerationParams | None = None) -> None:
        super().__init__(params or LandslideAccelerationParams())
        k = self.params.slots_per_window
        self.divisors = tuple(d for d in SCALE_DIVISORS if k % d == 0)
        #: back-to-back windows per scale, longest first: (trailing, the one before)
        self.windows = tuple(w for d in self.divisors for w in ((0, k // d), (k // d, k // d)))
        self.bins = FitBins("acc_fit", 2 * k, windows=self.windows)

    @classmethod
    def conformance_examples(cls) -> Sequence[LandslideAcceleration]:
        # two 10 s windows of one bin each: warm within a few readings, small for a million sensors
        return (
            cls(
                LandslideAccelerationParams(
                    slots_per_window=1,
                    accel_window_s=10.0,
                    accel_min_points=2,
                    accel_noise_sigmas=0.0,
                    accel_persist_readings=1,
                )
            ),
        )

    def _init_measure_state(self, capacity: int) -> State:
        state = self.bins.init_state(capacity)
        state["acc_since"] = np.full((capacity, 4), EMPTY_TS, dtype=np.int64)
        return state

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        sets = [state[f"sp_{k}"] for k in LEVEL_KEYS]
        ordered = (sets[0] > 0) & (sets[0] <= sets[1]) & (sets[1] <= sets[2]) & (sets[2] <= sets[3])
        ratio = state["sp_accel_clear_ratio"]
        checks = (
            (
                state["sp_accel_window_s"] * 1000.0 < self.params.slots_per_window,
                "needs a longer accel_window_s",
            ),
            (state["sp_accel_min_points"] < 2, "needs accel_min_points ≥ 2"),
            (~ordered, "needs 0 < blue ≤ yellow ≤ orange ≤ red (mm/d²)"),
            ((ratio <= 0) | (ratio > 1), "needs 0 < accel_clear_ratio ≤ 1"),
            (state["sp_accel_noise_sigmas"] < 0, "needs accel_noise_sigmas ≥ 0"),
            (
                (state["sp_accel_persist_s"] < 0) | (state["sp_accel_persist_critical_s"] < 0),
                "needs accel_persist_s ≥ 0 and accel_persist_critical_s ≥ 0",
            ),
        )
        self._reject_first_bad(checks, labels)

    def _set_points(self, state: State, rows: NDArray[np.int32]) -> NDArray[np.float64]:
        return np.stack([state[f"sp_{k}"][rows] for k in LEVEL_KEYS], axis=1)

    def _scales(self, state: State, rows: NDArray[np.int32]) -> list[dict[str, NDArray]]:
        """a and its parts over back-to-back windows of ``accel_window_s / divisor``, per divisor."""
        fits = self.bins.fits(state, rows, self.windows)
        noise_k = state["sp_accel_noise_sigmas"][rows]
        out = []
        for j, divisor in enumerate(self.divisors):
            r, p = 2 * j, 2 * j + 1
            window_ms = state["sp_accel_window_s"][rows] * 1000.0 / divisor
            need = np.maximum(np.ceil(state["sp_accel_min_points"][rows] / divisor), 2)
            ready = (
                (fits.points[:, r] >= need)
                & (fits.points[:, p] >= need)
                & (fits.span_ms[:, r] * 2 >= window_ms)
                & (fits.span_ms[:, p] * 2 >= window_ms)
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                dt_d = (fits.t_mean_s[:, r] - fits.t_mean_s[:, p]) / DAY_S
                v_r, v_p = fits.slope[:, r] * DAY_S, fits.slope[:, p] * DAY_S  # mm/d
                a = np.where(ready & (dt_d > 0), (v_r - v_p) / dt_d, np.nan)
                sig_p = np.nan_to_num(fits.sigma_slope[:, p]) * DAY_S
                sig = np.hypot(np.nan_to_num(fits.sigma_slope[:, r]) * DAY_S, sig_p)
                sigma_a = np.where(np.isfinite(a), sig / dt_d, np.nan)
                # moving downslope now, and not coming back from a negative rate (a re-zeroed meter)
                moving = (v_r > 0) & ~(v_p < -noise_k * sig_p)
            out.append(
                {
                    "a": np.where(moving, a, np.where(np.isfinite(a), -np.inf, np.nan)),
                    "a_raw": a,
                    "sigma_a": sigma_a,
                    "v_recent": v_r,
                    "v_prior": v_p,
                    "n_recent": fits.points[:, r].astype(np.float64),
                    "n_prior": fits.points[:, p].astype(np.float64),
                }
            )
        return out

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        valid = np.isfinite(x)
        k = self.params.slots_per_window
        n_scales = len(self.divisors)
        per_scale = {f: np.full((n, n_scales), np.nan) for f in _SCALE_FIELDS}
        per_level = np.full((n, 4), np.nan)
        scale_of = np.full((n, 4), -1, dtype=np.int64)
        score = np.full(n, np.nan)
        gate = np.ones((n, 4), dtype=bool)
        for idx in steps:
            ok = idx[valid[idx]]
            if ok.size:
                r = batch.rows[ok]
                bin_ms = (state["sp_accel_window_s"][r] * 1000.0).astype(np.int64) // k
                self.bins.push(state, r, batch.ts_ms[ok], x[ok], bin_ms)
            rows = batch.rows[idx]
            set_points = self._set_points(state, rows)
            noise_k = state["sp_accel_noise_sigmas"][rows]
            chosen = np.full((rows.size, 4), np.nan)
            which = np.full((rows.size, 4), -1, dtype=np.int64)
            for j, sc in enumerate(self._scales(state, rows)):  # longest first: shorter ones that exceed win
                for f in _SCALE_FIELDS:
                    per_scale[f][idx, j] = sc["a_raw"] if f == "a" else sc[f]
                a = sc["a"][:, None]
                if j == 0:
                    score[idx] = sc["a_raw"]
                    chosen = np.repeat(a, 4, axis=1)
                    which = np.where(np.isfinite(sc["a_raw"]), 0, -1)[:, None].repeat(4, axis=1)
                    continue
                with np.errstate(invalid="ignore"):
                    significant = a >= noise_k[:, None] * sc["sigma_a"][:, None]
                exceeds = at_or_above(a, set_points) & significant
                chosen = np.where(exceeds, a, chosen)
                which = np.where(exceeds, j, which)
            with np.errstate(invalid="ignore"):
                significant = chosen >= noise_k[:, None] * _pick(per_scale["sigma_a"][idx], which)
            cond = at_or_above(chosen, set_points) & significant
            now = self.bins.newest(state, rows)
            since, held = time_persisted(
                take_rows(state["acc_since"], rows),
                cond,
                now,
                state["sp_accel_persist_s"][rows],
                state["sp_accel_persist_critical_s"][rows],
            )
            upd = valid[idx]
            put_rows(state["acc_since"], rows[upd], since[upd])
            gate[idx] = held
            per_level[idx] = chosen
            scale_of[idx] = which
        extra: dict[str, NDArray] = {f"scale_level{lv + 1}": scale_of[:, lv] for lv in range(4)}
        for j in range(n_scales):
            extra.update({f"{f}_{j}": per_scale[f][:, j] for f in _SCALE_FIELDS})
        return Measures(
            score=np.where(valid, score, np.nan),
            per_level=np.where(np.isneginf(per_level), np.nan, per_level),
            valid=valid,
            gate=gate,
            extra=extra,
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = self._set_points(state, rows)
        clear = set_points * state["sp_accel_clear_ratio"][rows][:, None]
        return LevelThresholds(set_points, clear, state["sp_accel_persist_readings"][rows])

    def alert_value(self, ctx: TransitionContext) -> float | None:
        """The acceleration that decided: the new level's scale when rising, the left level's when falling."""
        value = measure_at(ctx, ctx.level if ctx.rising else ctx.previous)
        return value if np.isfinite(value) else None

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        k = ctx.level if ctx.rising else ctx.previous
        j = int(e[f"scale_level{k}"])
        if j < 0:
            window = duration_text(sp["accel_window_s"])
            return (
                f"displacement acceleration not computable at {ctx.where} at the {level_label(k)} level: "
                f"too few readings in the {window} windows or too noisy for its set point; level cleared "
                f"({self.source}); {level_label(ctx.previous)} → {level_label(ctx.level)} "
                f"[rule {self.name}, sensor {ctx.sensor_id}]"
            )
        window = duration_text(sp["accel_window_s"] / self.divisors[j])
        detail = (
            f"; v {fmt(e[f'v_recent_{j}'], 2)} mm/d over the last {window} "
            f"({int(e[f'n_recent_{j}'])} readings) vs {fmt(e[f'v_prior_{j}'], 2)} mm/d over the {window} "
            f"before ({int(e[f'n_prior_{j}'])} readings), noise σ_a {fmt(e[f'sigma_a_{j}'], 2)} mm/d²"
        )
        if ctx.rising:
            hold_s = sp["accel_persist_s"] if ctx.level <= 2 else sp["accel_persist_critical_s"]
            held = f", held {duration_text(hold_s)}" if hold_s > 0 else ""
            detail += f", {int(ctx.sustain)} consecutive readings{held}"
        return change_reason(
            ctx,
            self.name,
            what=("displacement acceleration",) * 4,
            set_names=(
                "first early-warning acceleration",
                "yellow acceleration",
                "orange acceleration",
                "red acceleration",
            ),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=2,
        )


def _pick(per_scale: NDArray[np.float64], which: NDArray[np.int64]) -> NDArray[np.float64]:
    """``(m, 4)``: the column ``which[i, k]`` of ``per_scale[i]`` (NaN where ``which`` is -1)."""
    got = np.take_along_axis(per_scale, np.maximum(which, 0), axis=1)
    return np.where(which >= 0, got, np.nan)
