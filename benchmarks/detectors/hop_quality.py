"""What refreshing `robust_z`'s median and MAD every `hop` readings costs in detection quality.

    python benchmarks/detectors/hop_quality.py             # hops 1, 2, 4, 8, 16 on the NAB subset
    python benchmarks/detectors/hop_quality.py --hops 1,4  # --write: into benchmarks/RESULTS.md

Each labelled NAB series is one sensor, streamed through `RobustZ` with default parameters except
`hop`, in batches of `--batch` readings in timestamp order (the score of a row depends only on rows at
or before it). A row is flagged at `z >= 3.5`, Iglewicz and Hoaglin's usual cut for modified z-scores
(a fixed convention, not tuned here). Per hop: the label windows with at least one flag, the flags
outside every window, and how far the flags agree with those of `hop=1` (the exactly sliding window).

No parameter is fitted to the labels.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.nab.paths import nab_dir
from benchmarks.nab.scorer import load_windows, window_rows
from benchmarks.pipeline.report import RESULTS, write_section
from detectors.base import Batch
from detectors.generic import RobustZ, RobustZParams
from riskstream.commands.score import Series, read_series

FLAG_Z = 3.5
SECTION = "## robust_z hops: detection cost"


def load_series(root: Path, names: Sequence[str]) -> list[Series]:
    """Each labelled NAB data file, read as ``riskstream score`` reads it."""
    return [read_series(root / "data" / name, Path(name)) for name in names]


def robust_scores(series: Series, hop: int, batch: int) -> np.ndarray:
    det = RobustZ(RobustZParams(hop=hop))
    state = det.init_state(1)
    ts_ms = series.ts_ms
    rows = np.zeros(series.values.size, dtype=np.int32)
    out = np.empty(series.values.size)
    for start in range(0, out.size, batch):
        stop = start + batch
        out[start:stop] = det.step_in_place(
            state, Batch.of(rows[start:stop], ts_ms[start:stop], series.values[start:stop])
        )
    return out


def in_window(series: Series, windows: Sequence[tuple[np.datetime64, np.datetime64]]) -> np.ndarray:
    """Each row's label window index, -1 outside every window."""
    out = np.full(series.values.size, -1)
    for i, (start, end) in enumerate(window_rows(series.ts_ms.astype("datetime64[ms]"), windows)):
        out[start : end + 1] = i
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hops", default="1,2,4,8,16", help="comma-separated hops (1 is the reference)")
    ap.add_argument("--batch", type=int, default=100, help="readings per batch (default 100)")
    ap.add_argument("--write", action="store_true", help=f"write the table into {RESULTS}")
    args = ap.parse_args(argv)
    hops = sorted({int(h) for h in args.hops.split(",")} | {1})
    root = nab_dir()
    windows = load_windows(root / "labels" / "combined_windows.json")
    series = load_series(root, sorted(windows))
    window = [in_window(s, windows[str(s.relative)]) for s in series]
    n_windows = sum(int(w.max()) + 1 for w in window)
    rows = sum(s.values.size for s in series)
    lines = [
        SECTION,
        "",
        f"Produced by `python benchmarks/detectors/hop_quality.py --hops {','.join(map(str, hops))}`:"
        f" `robust_z` (defaults but `hop`) on the {len(series)} labelled NAB series ({rows:,} rows,"
        f" {n_windows} label windows), one sensor per series, batches of {args.batch} readings; a row"
        f" is flagged at z >= {FLAG_Z} (Iglewicz and Hoaglin's cut for modified z-scores, not tuned)."
        " `hop` 1 is the exactly sliding window; the default is 8 (docs/adr/0006-robust-z-baseline-hops.md).",
        "",
        "| hop | label windows with a flag | rows flagged outside windows | rows flagged"
        " | same flags as hop 1 (Jaccard) |",
        "|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    reference: np.ndarray | None = None
    for hop in hops:
        flagged = []
        hit = 0
        for s, w in zip(series, window, strict=True):
            with np.errstate(invalid="ignore"):
                f = robust_scores(s, hop, args.batch) >= FLAG_Z
            flagged.append(f)
            hit += np.unique(w[f & (w >= 0)]).size
        flags = np.concatenate(flagged)
        outside = int((flags & (np.concatenate(window) < 0)).sum())
        if reference is None:
            reference = flags
        same = int((flags & reference).sum()) / max(int((flags | reference).sum()), 1)
        lines.append(f"| {hop} | {hit} of {n_windows} | {outside:,} | {int(flags.sum()):,} | {same:.3f} |")
        print(lines[-1], flush=True)
    if args.write:
        write_section(SECTION, "\n".join(lines) + "\n")
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
