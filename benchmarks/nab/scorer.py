"""A NAB (Numenta Anomaly Benchmark) scorer, written from the scoring description in the NAB README.

The rules (see ``data/nab/README.md`` in the shared data folder) in one place:

1. Probation: the first ``P = min(floor(0.15 n), 750)`` rows of a file of ``n`` rows are not scored.
2. A row is a detection when ``anomaly_score >= threshold``; one threshold for the whole corpus.
3. Every row has a value fixed by its position relative to the label windows (in rows, not time):
   inside a window ``[s, e]`` of width ``W`` the value is ``A_TP * f(-(e - i + 1) / W) / f(-1)``;
   before the first window it is ``-A_FP``; after a window it is ``A_FP * f((i - e_prev) / (W_prev - 1))``
   with ``f(y) = 2 / (1 + exp(5 y)) - 1`` and ``f(y) = -1`` for ``y > 3``.
4. A scorable window adds the value of its earliest detection (the largest, values fall through the
   window) or ``-A_FN`` when it has none; every detection outside windows adds its (negative) value.
5. The raw corpus score is the sum over files; the threshold is swept over every distinct score of the
   pooled scorable rows (plus "no detections") and the best raw score wins, ties going to the higher
   threshold.
6. ``NAB score = 100 (raw - null) / (perfect - null)`` with ``null = -A_FN N`` and ``perfect = A_TP N``,
   ``N`` the number of scorable windows.

Choices where the description is silent (none of them matter for the shipped labels):
* a label timestamp maps to the first row carrying it; a timestamp absent from the data maps to the
  first row after it (window start) or the last row before it (window end);
* a window that straddles the probation boundary keeps its geometry (its width ``W``); only its rows
  before ``P`` are dropped;
* after a window of width 1 (``W_prev - 1 = 0``) every later FP costs the full ``-A_FP``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

PROBATION_FRACTION = 0.15
PROBATION_CAP_ROWS = PROBATION_FRACTION * 5000  # 750 rows
SIGMOID_STEEPNESS = 5.0
SIGMOID_CUTOFF = 3.0


@dataclass(frozen=True, slots=True)
class Profile:
    """NAB cost weights (``tnWeight`` exists in ``profiles.json`` but NAB never uses it)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


@dataclass(frozen=True, slots=True)
class ScoredFile:
    """One file ready for scoring: its scorable rows with their score, value and window.

    ``window`` holds the file-local window index (``-1`` outside every window); ``n_windows`` counts
    the windows with at least one scorable row.
    """

    name: str
    scores: NDArray[np.float64]
    values: NDArray[np.float64]
    window: NDArray[np.int64]
    n_windows: int


@dataclass(frozen=True, slots=True)
class SweepResult:
    """The best threshold of a profile and the score it gives."""

    profile: Profile
    threshold: float
    raw: float
    null: float
    perfect: float
    n_windows: int
    true_positives: int  # windows detected
    false_negatives: int  # windows missed
    false_positives: int  # detected rows outside windows

    @property
    def normalised(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def load_profiles(path: Path) -> dict[str, Profile]:
    """Profiles from NAB's ``profiles.json``."""
    data = json.loads(Path(path).read_text())
    out = {}
    for name, body in data.items():
        cm = body["CostMatrix"]
        out[name] = Profile(name, float(cm["tpWeight"]), float(cm["fpWeight"]), float(cm["fnWeight"]))
    return out


def load_windows(path: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Label windows from ``combined_windows.json``, keyed by ``<category>/<file>.csv``."""
    data = json.loads(Path(path).read_text())
    return {
        key: [
            (np.datetime64(a.replace(" ", "T"), "ms"), np.datetime64(b.replace(" ", "T"), "ms"))
            for a, b in wins
        ]
        for key, wins in data.items()
    }


def probationary_rows(n_rows: int) -> int:
    """Rows with index below this are left out of scoring (NAB's probationary period)."""
    return int(min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_CAP_ROWS))


def scaled_sigmoid(y: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """``f(y) = 2 / (1 + e^{5y}) - 1``, and exactly ``-1`` where ``y > 3``."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = 2.0 / (1.0 + np.exp(SIGMOID_STEEPNESS * y)) - 1.0
    return np.where(y > SIGMOID_CUTOFF, -1.0, f)


def window_rows(
    timestamps: NDArray[np.datetime64], windows: Sequence[tuple[np.datetime64, np.datetime64]]
) -> list[tuple[int, int]]:
    """Map label windows (timestamps) to inclusive row ranges ``(s, e)`` of a sorted timestamp column."""
    ts = np.asarray(timestamps).astype("datetime64[ms]")
    out = []
    for start, end in windows:
        s = int(np.searchsorted(ts, start, side="left"))
        e = int(np.searchsorted(ts, end, side="left"))
        if e >= ts.size or ts[e] != end:
            e = int(np.searchsorted(ts, end, side="right")) - 1
        if s <= e:
            out.append((s, e))
    return out


def row_values(n_rows: int, windows: Sequence[tuple[int, int]], profile: Profile) -> tuple[NDArray, NDArray]:
    """The value of a detection on each row and each row's window index (``-1`` outside windows)."""
    values = np.full(n_rows, -profile.fp_weight, dtype=np.float64)
    window = np.full(n_rows, -1, dtype=np.int64)
    max_tp = float(scaled_sigmoid(-1.0))
    ordered = sorted(windows)
    for k, (s, e) in enumerate(ordered):
        width = e - s + 1
        idx = np.arange(s, e + 1)
        values[idx] = profile.tp_weight * scaled_sigmoid(-(e - idx + 1) / width) / max_tp
        window[idx] = k
        # rows after this window up to the next one: FP decaying with the previous window's width - 1
        stop = ordered[k + 1][0] if k + 1 < len(ordered) else n_rows
        after = np.arange(e + 1, stop)
        if after.size:
            if width > 1:
                y = (after - e) / (width - 1)
                values[after] = profile.fp_weight * scaled_sigmoid(y)
            else:
                values[after] = -profile.fp_weight
    return values, window


def prepare_file(
    name: str,
    scores: NDArray[np.float64],
    timestamps: NDArray[np.datetime64],
    windows: Sequence[tuple[np.datetime64, np.datetime64]],
    profile: Profile,
) -> ScoredFile:
    """Drop the probationary rows and attach each remaining row's value and window."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.size
    rows = window_rows(timestamps, windows)
    values, window = row_values(n, rows, profile)
    p = probationary_rows(n)
    kept_window = window[p:]
    scorable = np.unique(kept_window[kept_window >= 0])
    return ScoredFile(name, scores[p:], values[p:], kept_window, int(scorable.size))


def score_at(files: Iterable[ScoredFile], profile: Profile, threshold: float) -> float:
    """Raw corpus score at one threshold (rows with ``score >= threshold`` are detections)."""
    total = 0.0
    for f in files:
        with np.errstate(invalid="ignore"):
            hit = f.scores >= threshold
        total += float(f.values[hit & (f.window < 0)].sum())
        for w in np.unique(f.window[f.window >= 0]):
            in_w = f.window == w
            det = hit & in_w
            total += float(f.values[det].max()) if det.any() else -profile.fn_weight
    return total


def sweep(files: Sequence[ScoredFile], profile: Profile) -> SweepResult:
    """Best global threshold by an exhaustive sweep over every distinct score (ties -> higher threshold).

    Rows are pooled and sorted by score, highest first; adding one row changes the raw score by its
    value (outside windows) or by how much it raises its window's best value (inside, starting from
    ``-A_FN``). The raw score at threshold ``t`` is the running sum after the last row scoring ``>= t``.
    NaN scores never detect.
    """
    n_windows = sum(f.n_windows for f in files)
    null = -profile.fn_weight * n_windows
    perfect = profile.tp_weight * n_windows
    scores = np.concatenate([f.scores for f in files]) if files else np.empty(0)
    values = np.concatenate([f.values for f in files]) if files else np.empty(0)
    offsets = np.cumsum([0] + [f.n_windows for f in files])
    window = (
        np.concatenate(
            [
                np.where(f.window >= 0, _dense_window(f.window) + off, -1)
                for f, off in zip(files, offsets, strict=False)
            ]
        )
        if files
        else np.empty(0, dtype=np.int64)
    )
    keep = ~np.isnan(scores)
    scores, values, window = scores[keep], values[keep], window[keep]
    order = np.argsort(-scores, kind="stable")
    scores, values, window = scores[order], values[order], window[order]

    delta = np.where(window < 0, values, 0.0)
    is_first_tp = np.zeros(scores.size, dtype=bool)
    inside = np.flatnonzero(window >= 0)
    if inside.size:
        w = window[inside]
        by_window = np.argsort(w, kind="stable")  # each window's rows, still in sweep order
        idx_sorted = inside[by_window]
        w_sorted = w[by_window]
        starts = np.flatnonzero(np.r_[True, w_sorted[1:] != w_sorted[:-1]])
        best = np.empty(idx_sorted.size)
        for a, b in zip(starts, np.r_[starts[1:], idx_sorted.size], strict=True):
            run = np.maximum.accumulate(values[idx_sorted[a:b]])
            best[a:b] = run
            prev = np.r_[-profile.fn_weight, run[:-1]]
            delta[idx_sorted[a:b]] = run - prev
            is_first_tp[idx_sorted[a]] = True
    running = null + np.cumsum(delta)
    fp_running = np.cumsum(window < 0)
    tp_running = np.cumsum(is_first_tp)

    # evaluate at the last row of each group of equal scores; candidate 0 = no detections
    group_end = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True]) if scores.size else np.empty(0, int)
    candidates = np.r_[null, running[group_end]]
    best_k = int(np.argmax(candidates))  # first maximum = highest threshold
    if best_k == 0:
        top = float(scores[0]) if scores.size else 1.0
        threshold = max(1.1, float(np.nextafter(top, np.inf)))
        tp = fp = 0
    else:
        end = group_end[best_k - 1]
        threshold = float(scores[end])
        tp, fp = int(tp_running[end]), int(fp_running[end])
    return SweepResult(
        profile=profile,
        threshold=threshold,
        raw=float(candidates[best_k]),
        null=null,
        perfect=perfect,
        n_windows=n_windows,
        true_positives=tp,
        false_negatives=n_windows - tp,
        false_positives=fp,
    )


def _dense_window(window: NDArray[np.int64]) -> NDArray[np.int64]:
    """Renumber a file's scorable window indices 0..k-1 (windows lost to probation disappear)."""
    out = np.full(window.shape, -1, dtype=np.int64)
    inside = window >= 0
    _, dense = np.unique(window[inside], return_inverse=True)
    out[inside] = dense
    return out


# --- files -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultFile:
    """A detector's output for one series: ``timestamp`` and ``anomaly_score`` per row."""

    name: str
    timestamps: NDArray[np.datetime64]
    scores: NDArray[np.float64]


def read_result_csv(path: Path, name: str) -> ResultFile:
    """Read ``timestamp,...,anomaly_score`` (NAB's results layout); extra columns are ignored."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        try:
            t_col, s_col = header.index("timestamp"), header.index("anomaly_score")
        except ValueError as exc:
            raise ValueError(f"{path}: needs columns timestamp and anomaly_score, got {header}") from exc
        ts, sc = [], []
        for row in reader:
            ts.append(row[t_col].strip().replace(" ", "T"))
            sc.append(row[s_col])
    return ResultFile(name, np.array(ts, dtype="datetime64[ms]"), np.array(sc, dtype=np.float64))


def read_results_dir(root: Path, names: Iterable[str]) -> list[ResultFile]:
    """Read ``root/<name>`` for every label key ``name``; a missing file is an error, not a skip."""
    out = []
    for name in sorted(names):
        path = Path(root) / name
        if not path.is_file():
            raise FileNotFoundError(f"no result file for labelled series {name}: {path}")
        out.append(read_result_csv(path, name))
    return out


def score_results(
    results: Sequence[ResultFile],
    windows: Mapping[str, Sequence[tuple[np.datetime64, np.datetime64]]],
    profiles: Mapping[str, Profile],
) -> dict[str, SweepResult]:
    """Sweep every profile over a set of result files."""
    out = {}
    for name, profile in profiles.items():
        prepared = [prepare_file(r.name, r.scores, r.timestamps, windows[r.name], profile) for r in results]
        out[name] = sweep(prepared, profile)
    return out


def score_results_dir(results_dir: Path, nab_dir: Path) -> dict[str, SweepResult]:
    """Score a results folder laid out like ``data/`` against the labels and profiles of ``nab_dir``."""
    windows = load_windows(Path(nab_dir) / "labels" / "combined_windows.json")
    profiles = load_profiles(Path(nab_dir) / "profiles.json")
    return score_results(read_results_dir(results_dir, windows), windows, profiles)
