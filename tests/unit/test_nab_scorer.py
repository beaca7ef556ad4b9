"""The NAB scorer: each scoring rule on small hand-made cases, then the six published figures.

The published per-row outputs of Numenta HTM and Windowed Gaussian on the 31-series subset must score
as data/nab/README.md states (to +/- 0.01). The shared data folder is found next to the repository
(or via ``RISKSTREAM_SHARED_DIR``); if it is missing these tests fail, they do not skip.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.nab import scorer as nab  # noqa: E402

SHARED = Path(
    os.environ.get("RISKSTREAM_SHARED_DIR") or Path(__file__).resolve().parents[2].parent / "shared"
)
NAB_DIR = SHARED / "data" / "nab"

STANDARD = nab.Profile("standard", 1.0, 0.11, 1.0)
LOW_FP = nab.Profile("reward_low_FP_rate", 1.0, 0.22, 1.0)
LOW_FN = nab.Profile("reward_low_FN_rate", 1.0, 0.11, 2.0)
F_MINUS_1 = 2.0 / (1.0 + math.exp(-5.0)) - 1.0  # f(-1)


def sig(y: float) -> float:
    """The scaled sigmoid, written out independently of the module under test."""
    return -1.0 if y > 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def one_file(
    scores: list[float] | np.ndarray, windows: list[tuple[int, int]], profile: nab.Profile = STANDARD
):
    """A file of len(scores) rows with minute timestamps and the given row windows."""
    scores = np.asarray(scores, dtype=float)
    ts = np.datetime64("2020-01-01T00:00", "ms") + np.arange(scores.size) * np.timedelta64(60_000, "ms")
    label_windows = [(ts[s], ts[e]) for s, e in windows]
    return nab.prepare_file("f.csv", scores, ts, label_windows, profile)


# --- the pieces ------------------------------------------------------------------------------------


def test_scaled_sigmoid_values() -> None:
    assert float(nab.scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(nab.scaled_sigmoid(0.0)) == 0.0
    assert float(nab.scaled_sigmoid(1.0)) == pytest.approx(-0.98661, abs=1e-5)
    assert float(nab.scaled_sigmoid(3.0)) == pytest.approx(sig(3.0))  # 3 itself is still on the curve
    assert float(nab.scaled_sigmoid(3.0001)) == -1.0


@pytest.mark.parametrize(("n", "p"), [(100, 15), (1243, 186), (4032, 604), (5000, 750), (15902, 750)])
def test_probationary_period(n: int, p: int) -> None:
    assert nab.probationary_rows(n) == p


def test_window_rows_from_timestamps() -> None:
    ts = np.array(
        ["2020-01-01T00:00", "2020-01-01T00:05", "2020-01-01T00:10", "2020-01-01T00:15"], "datetime64[ms]"
    )
    exact = [(np.datetime64("2020-01-01T00:05", "ms"), np.datetime64("2020-01-01T00:10", "ms"))]
    assert nab.window_rows(ts, exact) == [(1, 2)]
    between = [(np.datetime64("2020-01-01T00:03", "ms"), np.datetime64("2020-01-01T00:12", "ms"))]
    assert nab.window_rows(ts, between) == [(1, 2)]


def test_row_values_inside_windows_follow_the_scaled_sigmoid() -> None:
    values, window = nab.row_values(40, [(20, 29)], STANDARD)
    width = 10
    assert values[20] == pytest.approx(1.0)  # first row of a window: exactly A_TP
    for i in range(20, 30):
        assert values[i] == pytest.approx(sig(-(29 - i + 1) / width) / F_MINUS_1)
        assert values[i] > 0
    assert values[29] == pytest.approx(sig(-1 / width) / F_MINUS_1)
    assert list(np.flatnonzero(window == 0)) == list(range(20, 30))
    assert np.all(np.diff(values[20:30]) < 0)  # falls monotonically through the window


def test_row_values_outside_windows() -> None:
    values, _ = nab.row_values(60, [(20, 29)], STANDARD)
    assert np.all(values[:20] == -0.11)  # before the first window: the full -A_FP
    width = 10
    for i in range(30, 60):  # after it: decay with the previous window's width - 1
        assert values[i] == pytest.approx(0.11 * sig((i - 29) / (width - 1)))
    assert values[30] > -0.11 / 2  # just after the window a late detection costs little
    assert values[59] == -0.11  # y > 3


def test_fp_decay_uses_the_most_recent_window() -> None:
    values, _ = nab.row_values(100, [(10, 13), (50, 69)], STANDARD)
    assert values[40] == pytest.approx(0.11 * sig((40 - 13) / 3))  # after the 4-wide window
    assert values[75] == pytest.approx(0.11 * sig((75 - 69) / 19))  # after the 20-wide window


# --- one file at a threshold -----------------------------------------------------------------------


def test_probationary_rows_never_count() -> None:
    scores = np.zeros(100)
    scores[:15] = 1.0  # P = 15: detections in probation are neither FP nor TP
    f = one_file(scores, [(50, 59)])
    assert nab.score_at([f], STANDARD, 0.5) == pytest.approx(-1.0)  # only the missed window
    scores[15] = 1.0  # first scorable row, before the window: a full FP
    f = one_file(scores, [(50, 59)])
    assert nab.score_at([f], STANDARD, 0.5) == pytest.approx(-1.0 - 0.11)


def test_earliest_detection_per_window_counts_once() -> None:
    scores = np.zeros(100)
    scores[[53, 55, 58]] = 1.0
    f = one_file(scores, [(50, 59)])
    first = sig(-(59 - 53 + 1) / 10) / F_MINUS_1
    assert nab.score_at([f], STANDARD, 0.5) == pytest.approx(first)


def test_every_false_positive_counts() -> None:
    scores = np.zeros(100)
    scores[[20, 21, 22]] = 1.0
    f = one_file(scores, [(50, 59)])
    assert nab.score_at([f], STANDARD, 0.5) == pytest.approx(-1.0 - 3 * 0.11)
    f = one_file(scores, [(50, 59)], LOW_FP)
    assert nab.score_at([f], LOW_FP, 0.5) == pytest.approx(-1.0 - 3 * 0.22)


def test_missed_windows_cost_a_fn() -> None:
    f = one_file(np.zeros(100), [(30, 39), (60, 69)], LOW_FN)
    assert nab.score_at([f], LOW_FN, 0.5) == pytest.approx(-4.0)


def test_window_lost_to_probation_is_not_scorable() -> None:
    f = one_file(np.zeros(100), [(2, 5), (60, 69)])
    assert f.n_windows == 1


# --- sweep and normalisation -----------------------------------------------------------------------


def test_sweep_prefers_no_detections_when_every_detection_hurts() -> None:
    scores = np.zeros(100)
    scores[20] = 0.9  # an FP, the file has no window
    r = nab.sweep([one_file(scores, [(50, 59)])], STANDARD)
    assert r.threshold > 0.9 and r.raw == pytest.approx(-1.0)


def test_sweep_ties_go_to_the_higher_threshold() -> None:
    scores = np.zeros(100)
    scores[50] = 0.8  # detects the window's first row: worth +1 exactly
    scores[5] = 0.3  # probationary: adding it changes nothing, so 0.3 ties with 0.8
    r = nab.sweep([one_file(scores, [(50, 59)])], STANDARD)
    assert r.raw == pytest.approx(1.0)
    assert r.threshold == 0.8


def test_normalisation_null_and_perfect() -> None:
    null = nab.sweep([one_file(np.zeros(200), [(100, 119), (150, 159)])], STANDARD)
    assert null.n_windows == 2 and null.null == -2.0 and null.perfect == 2.0
    assert null.normalised == pytest.approx(0.0)
    scores = np.zeros(200)
    scores[[100, 150]] = 1.0
    perfect = nab.sweep([one_file(scores, [(100, 119), (150, 159)])], STANDARD)
    assert perfect.normalised == pytest.approx(100.0)
    assert (perfect.true_positives, perfect.false_negatives, perfect.false_positives) == (2, 0, 0)


def test_threshold_is_global_across_files() -> None:
    a = np.zeros(100)
    a[50] = 0.6
    b = np.zeros(100)
    b[50] = 0.4
    b[20] = 0.5  # FP in b, but not worth skipping b's window for
    files = [one_file(a, [(50, 59)]), one_file(b, [(50, 59)])]
    r = nab.sweep(files, STANDARD)
    assert r.threshold == 0.4
    assert r.raw == pytest.approx(2.0 - 0.11)


def test_sweep_matches_brute_force_at_every_threshold() -> None:
    rng = np.random.default_rng(5)
    files = []
    for _ in range(6):
        n = int(rng.integers(150, 400))
        scores = np.round(rng.random(n), 2)  # many ties
        s = int(rng.integers(n // 4, n - 40))
        files.append(one_file(scores, [(s, s + int(rng.integers(3, 30)))]))
    for profile in (STANDARD, LOW_FP, LOW_FN):
        best = nab.sweep(files, profile)
        candidates = sorted({float(v) for f in files for v in f.scores}, reverse=True)
        brute = [(nab.score_at(files, profile, t), t) for t in [1.1, *candidates]]
        top = max(v for v, _ in brute)
        assert best.raw == pytest.approx(top)
        want = max(t for v, t in brute if v >= top - 1e-9)  # ties: the higher threshold
        if want == 1.1:
            assert best.threshold > candidates[0]
        else:
            assert best.threshold == want


# --- the published figures -------------------------------------------------------------------------


def test_shared_nab_data_is_present() -> None:
    assert (NAB_DIR / "labels" / "combined_windows.json").is_file(), (
        f"NAB data not found at {NAB_DIR}: put shared/ next to the repository or set RISKSTREAM_SHARED_DIR"
    )


@pytest.mark.parametrize(
    ("folder", "want"),
    [("numenta", (71.21, 64.99, 75.87)), ("windowedGaussian", (36.71, 21.40, 45.17))],
)
def test_published_figures_are_reproduced(folder: str, want: tuple[float, float, float]) -> None:
    results = nab.score_results_dir(NAB_DIR / "results" / folder, NAB_DIR)
    got = tuple(results[p].normalised for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"))
    for g, w in zip(got, want, strict=True):
        assert abs(g - w) <= 0.01 + 1e-9, f"{folder}: got {got}, want {want}"
    assert results["standard"].n_windows == 57
