"""NAB benchmark of the shipped anomaly detector, side by side with the published detectors.

    python benchmarks/nab/run.py                  # score the subset, print the three profiles
    python benchmarks/nab/run.py --sensitivity    # also +/- variations of the main parameters (~2 min)
    python benchmarks/nab/run.py --set tail_step=0.4 --keep /tmp/nab-out

It runs ``riskstream score`` on the NAB data folder (all series streamed together, one sensor per
file) into a temporary folder, scores that folder with :mod:`benchmarks.nab.scorer` (threshold swept
per profile over the whole corpus), and prints the scores next to the published ones. The published
per-row outputs in ``results/`` are re-scored too, as a check that the scorer reproduces the
published figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.nab.paths import nab_dir
from benchmarks.nab.scorer import SweepResult, score_results_dir
from riskstream.cli import main as riskstream_main

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")

#: NAB's published per-row outputs scored on this 31-series subset (data/nab/README.md)
PUBLISHED: dict[str, tuple[float | None, float | None, float | None]] = {
    "Numenta HTM": (71.21, 64.99, 75.87),
    "KNN CAD": (64.4, None, None),
    "Relative Entropy": (56.3, None, None),
    "Windowed Gaussian": (36.71, 21.40, 45.17),
}
#: published outputs shipped in results/ (re-scored as a check of the scorer)
PUBLISHED_RESULTS = {"Numenta HTM": "numenta", "Windowed Gaussian": "windowedGaussian"}

#: the +/- variations reported by --sensitivity (defaults are in detectors/anomaly/ensemble.py)
SENSITIVITY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("alpha", ("0.01", "0.03")),
    ("tail_p", ("0.998", "0.9995")),
    ("tail_step", ("0.4", "0.6")),
    ("envelope_tau", ("35", "70")),
    ("profile_days", ("12", "24")),
    ("profile_min_visits", ("2", "5")),
    ("daily_weight", ("0.75", "1.25")),
    ("refractory_tau", ("20", "45")),
)


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    results: dict[str, SweepResult]
    seconds: float


def score_detector(
    data: Path,
    nab: Path,
    overrides: Sequence[str] = (),
    batch: int = 10_000,
    keep: Path | None = None,
    quiet: bool = True,
) -> dict[str, SweepResult]:
    """``riskstream score`` on ``data`` (into ``keep`` or a temp folder), then the NAB sweep per profile."""
    with tempfile.TemporaryDirectory(prefix="riskstream-nab-") as tmp:
        out = keep if keep is not None else Path(tmp)
        argv = ["score", "--input", str(data), "--output", str(out), "--batch", str(batch)]
        for item in overrides:
            argv += ["--set", item]
        if quiet:
            argv.append("--quiet")
        code = riskstream_main(argv)
        if code != 0:
            raise SystemExit(f"riskstream score failed with exit code {code}")
        return score_results_dir(out, nab)


def fmt(value: float | None) -> str:
    return f"{value:6.2f}" if value is not None else "     -"


def print_table(ours: Run, checks: dict[str, dict[str, SweepResult]]) -> None:
    print(
        f"\nNAB scores on the {ours.results['standard'].n_windows}-window subset "
        "(standard / reward_low_FP_rate / reward_low_FN_rate; threshold swept per profile)\n"
    )
    print(f"{'detector':<34} {'standard':>8} {'low FP':>8} {'low FN':>8}")
    r = ours.results
    print(f"{ours.label:<34} " + " ".join(f"{fmt(r[p].normalised):>8}" for p in PROFILES))
    for name, scores in PUBLISHED.items():
        print(f"{name + ' (published)':<34} " + " ".join(f"{fmt(v):>8}" for v in scores))
    for name, res in checks.items():
        print(
            f"{name + ' (re-scored here)':<34} " + " ".join(f"{fmt(res[p].normalised):>8}" for p in PROFILES)
        )
    print()
    for p in PROFILES:
        s = r[p]
        print(
            f"  {p:<19} threshold {s.threshold:.4f}  windows detected {s.true_positives}/{s.n_windows}  "
            f"false-positive rows {s.false_positives}"
        )
    print(f"  scoring run: {ours.seconds:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nab-dir", type=Path, default=None, help="NAB subset folder (default: shared/data/nab)")
    ap.add_argument("--data", type=Path, default=None, help="series to score (default: NAB_DIR/data)")
    ap.add_argument(
        "--keep", type=Path, default=None, help="write the scored CSVs here instead of a temp dir"
    )
    ap.add_argument("--batch", type=int, default=10_000, help="readings per batch (default 10000)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="detector parameter")
    ap.add_argument("--sensitivity", action="store_true", help="also score +/- variations of the parameters")
    args = ap.parse_args(argv)

    nab = args.nab_dir or nab_dir()
    data = args.data or nab / "data"
    if not (nab / "labels" / "combined_windows.json").is_file():
        print(f"error: no NAB labels under {nab} (set --nab-dir or RISKSTREAM_SHARED_DIR)", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    results = score_detector(data, nab, args.set, args.batch, args.keep, quiet=False)
    label = "riskstream anomaly" + (f" ({', '.join(args.set)})" if args.set else " (defaults)")
    ours = Run(label, results, time.perf_counter() - t0)
    checks = {
        name: score_results_dir(nab / "results" / folder, nab)
        for name, folder in PUBLISHED_RESULTS.items()
        if (nab / "results" / folder).is_dir()
    }
    print_table(ours, checks)

    if args.sensitivity:
        print("\nSensitivity (one parameter changed at a time, others at their defaults):\n")
        print(f"{'change':<26} {'standard':>8} {'low FP':>8} {'low FN':>8}")
        base = ours.results
        print(f"{'(defaults)':<26} " + " ".join(f"{fmt(base[p].normalised):>8}" for p in PROFILES))
        for name, values in SENSITIVITY:
            for value in values:
                item = f"{name}={value}"
                res = score_detector(data, nab, [*args.set, item], args.batch)
                print(f"{item:<26} " + " ".join(f"{fmt(res[p].normalised):>8}" for p in PROFILES), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
