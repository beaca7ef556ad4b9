"""Flat line (QARTOD stuck-sensor test): how long the value has stayed within a tolerance.

Per sensor the current run: consecutive finite readings whose spread ``max - min`` stays within
``sp_tolerance``. Score = the run's length in readings, this one included (``unit=READINGS``; QARTOD's
example counts are suspect at 3-4, fail at 6-9), or its age in seconds, ``(ts - first ts of the run) /
1000`` (``unit=SECONDS``; e.g. suspect at 1 h, fail at 6 h for gas sensors that normally fluctuate).
QARTOD compares the newest value with each earlier one (spread up to twice the tolerance); a spread
bound is a little stricter and needs no stored history.

Signals that are legitimately constant (0 mm of rain, 0 %LEL in clean air, an idle elevator) are
exempt: a reading within the tolerance of ``sp_exempt_value`` scores 0. NaN tolerance never continues a
run; NaN exempt value exempts nothing. Non-finite readings score NaN and leave the run as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic.common import GenericDetector, nan_scores, quiet_float_errors, reading_steps


class FlatLineUnit(StrEnum):
    READINGS = "readings"
    SECONDS = "seconds"


@dataclass(frozen=True, slots=True)
class FlatLineParams:
    """Defaults of ``sp_tolerance`` (sensor units) and ``sp_exempt_value`` for cold rows."""

    tolerance: float = 0.01
    exempt_value: float = float("nan")
    unit: FlatLineUnit = FlatLineUnit.READINGS


class FlatLine(GenericDetector[FlatLineParams]):
    """Length of the current run of readings within tolerance."""

    name: ClassVar[str] = "flat_line"

    def init_state(self, capacity: int) -> State:
        p = self.params
        return {
            "run_min": np.zeros(capacity, dtype=np.float64),
            "run_max": np.zeros(capacity, dtype=np.float64),
            "run_len": np.zeros(capacity, dtype=np.int64),
            "run_start_ts": np.zeros(capacity, dtype=np.int64),
            "sp_tolerance": np.full(capacity, p.tolerance, dtype=np.float64),
            "sp_exempt_value": np.full(capacity, p.exempt_value, dtype=np.float64),
        }

    @quiet_float_errors
    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        scores = nan_scores(len(batch))
        run_min, run_max, run_len, run_start = (
            state[k] for k in ("run_min", "run_max", "run_len", "run_start_ts")
        )
        tol_all, exempt_all = state["sp_tolerance"], state["sp_exempt_value"]
        finite = np.isfinite(batch.values)
        all_finite = bool(finite.all())
        by_seconds = self.params.unit is FlatLineUnit.SECONDS
        for idx in reading_steps(batch):
            r = batch.rows[idx]
            x, ts = batch.values[idx], batch.ts_ms[idx]
            tol = tol_all[r]
            lo = np.minimum(run_min[r], x)
            hi = np.maximum(run_max[r], x)
            n = run_len[r]
            cont = hi - lo <= tol
            cont &= n > 0
            new_n = np.where(cont, n + 1, 1)
            new_start = np.where(cont, run_start[r], ts)
            new_min = np.where(cont, lo, x)
            new_max = np.where(cont, hi, x)
            score = np.maximum(ts - new_start, 0) / 1000.0 if by_seconds else new_n.astype(np.float64)
            score[np.abs(x - exempt_all[r]) <= tol] = 0.0
            if all_finite:
                run_min[r], run_max[r], run_len[r], run_start[r] = new_min, new_max, new_n, new_start
            else:
                ok = finite[idx]
                rr = r[ok]
                run_min[rr], run_max[rr], run_len[rr], run_start[rr] = (
                    new_min[ok],
                    new_max[ok],
                    new_n[ok],
                    new_start[ok],
                )
                score[~ok] = np.nan
            scores[idx] = score
        return scores

    @classmethod
    def conformance_examples(cls) -> Sequence[FlatLine]:
        return (
            cls(FlatLineParams(tolerance=0.5)),
            cls(FlatLineParams(tolerance=1.0, exempt_value=0.0, unit=FlatLineUnit.SECONDS)),
        )
