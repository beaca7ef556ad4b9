"""``riskstream score --input DIR --output DIR``: offline anomaly scores for a folder of CSV series.

Every ``*.csv`` under the input folder (recursively) is one sensor with columns ``timestamp,value``.
All series are merged into one stream in timestamp order (ties: file order, then row order) and fed
through the anomaly detector (:class:`detectors.anomaly.AnomalyScore`) in chunked batches across
sensors, exactly as a worker would see them: ``Batch`` columns sorted by (sensor, time), one vectorised
step per k-th reading of each sensor, state kept between batches. Nothing looks ahead: a row's score
depends only on rows at or before it in its own series, so the batch size changes nothing but speed.

For each input file the same relative path under the output folder gets ``timestamp,value,anomaly_score``
with one row per input row, in input order (a repeated timestamp still gets its own score).
Timestamps and values are copied verbatim. Rows the detector cannot score (warm-up, missing value) get
``--unscored`` (``0`` by default, so the file is a valid NAB result; ``empty`` leaves the cell empty).

Timestamps are ISO 8601 without a zone (read as UTC; a trailing ``Z`` is accepted) or integer epoch
milliseconds. An empty value, ``nan`` or ``inf`` is a missing reading; anything else that is not a
number is an error that names the file and line.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from detectors.anomaly import AnomalyParams, AnomalyScore
from detectors.base import Batch

DEFAULT_BATCH = 10_000
UNSCORED = {"zero": "0", "empty": ""}


class ScoreInputError(ValueError):
    """A CSV the command cannot read; the message names the file and, where known, the line."""


@dataclass(frozen=True, slots=True)
class Series:
    """One input file: raw text columns (written back verbatim) and parsed times and values."""

    relative: Path
    ts_text: list[str]
    value_text: list[str]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ts_text)


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    files: int
    readings: int
    scored: int
    seconds: float
    out_of_order_files: tuple[str, ...]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score every timestamp,value CSV under a folder with the streaming anomaly detector",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--input", required=True, type=Path, help="folder of CSV files (searched recursively)")
    p.add_argument("--output", required=True, type=Path, help="folder for the scored CSVs (same layout)")
    p.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help=f"readings per batch (default {DEFAULT_BATCH})"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a detector parameter (repeatable), e.g. --set tail_step=0.4",
    )
    p.add_argument(
        "--unscored", choices=sorted(UNSCORED), default="zero", help="what rows without a score get"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        params = parse_overrides(args.set)
        progress = None if args.quiet else ProgressPrinter(sys.stderr)
        summary = score_directory(
            args.input,
            args.output,
            AnomalyScore(params),
            batch_size=args.batch,
            unscored=UNSCORED[args.unscored],
            progress=progress,
        )
    except (ScoreInputError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        rate = summary.readings / summary.seconds if summary.seconds > 0 else float("inf")
        print(
            f"scored {summary.files} files, {summary.readings:,} readings ({summary.scored:,} with a score) "
            f"in {summary.seconds:.1f} s ({rate:,.0f} readings/s) -> {args.output}",
            file=sys.stderr,
        )
        for name in summary.out_of_order_files:
            print(f"warning: {name}: timestamps not in order; scored in timestamp order", file=sys.stderr)
    return 0


# --- parameters ------------------------------------------------------------------------------------


def parse_overrides(items: Sequence[str]) -> AnomalyParams:
    """``AnomalyParams`` with ``name=value`` overrides, each converted to the field's type."""
    hints = typing.get_type_hints(AnomalyParams)
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(AnomalyParams))
            raise ValueError(f"--set {item!r}: expected NAME=VALUE with NAME one of {known}")
        kind = hints[name]
        try:
            changes[name] = kind(text.strip()) if kind in (int, float) else text.strip()
        except ValueError as exc:
            raise ValueError(f"--set {item!r}: {name} must be of type {kind.__name__}") from exc
    return AnomalyParams(**changes)


# --- reading ---------------------------------------------------------------------------------------


def find_csvs(root: Path, exclude: Path | None = None) -> list[Path]:
    """Every ``*.csv`` under ``root`` (sorted), except those under ``exclude``."""
    if not root.is_dir():
        raise ScoreInputError(f"input folder {root} does not exist or is not a folder")
    skip = exclude.resolve() if exclude is not None else None
    found = []
    for path in sorted(root.rglob("*.csv")):
        if not path.is_file():
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        found.append(path)
    if not found:
        raise ScoreInputError(f"no .csv files under {root}")
    return found


def read_series(path: Path, relative: Path) -> Series:
    """Read one ``timestamp,value`` CSV, with errors that say where the problem is."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise ScoreInputError(f"{path}: not a UTF-8 text file ({exc.reason})") from exc
    if not rows:
        raise ScoreInputError(f"{path}: empty file (expected a header timestamp,value)")
    header = [h.strip().lower() for h in rows[0]]
    if header[:2] != ["timestamp", "value"]:
        raise ScoreInputError(
            f"{path}: line 1: header must start with timestamp,value, got {','.join(rows[0])!r}"
        )
    ts_text: list[str] = []
    value_text: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) < 2:
            raise ScoreInputError(f"{path}: line {line}: expected 2 fields (timestamp,value), got {len(row)}")
        ts_text.append(row[0].strip())
        value_text.append(row[1].strip())
    if not ts_text:
        raise ScoreInputError(f"{path}: no data rows after the header")
    return Series(
        relative, ts_text, value_text, parse_timestamps(path, ts_text), parse_values(path, value_text)
    )


def parse_timestamps(path: Path, texts: list[str]) -> NDArray[np.int64]:
    """Epoch milliseconds from ISO 8601 (no zone, or ``Z``) or integer epoch-ms strings."""
    if all(t.lstrip("-").isdigit() for t in texts):
        return np.array([int(t) for t in texts], dtype=np.int64)
    cleaned = [t[:-1] if t.endswith(("Z", "z")) else t for t in texts]
    try:
        return np.array(cleaned, dtype="datetime64[ms]").astype(np.int64)
    except ValueError:
        pass
    for line, t in enumerate(cleaned, start=2):
        try:
            np.datetime64(t, "ms")
        except ValueError:
            raise ScoreInputError(
                f"{path}: line {line}: bad timestamp {t!r} "
                "(use ISO 8601 like 2014-04-01 00:05:00, or epoch milliseconds)"
            ) from None
    raise ScoreInputError(f"{path}: timestamps could not be read")  # pragma: no cover - defensive


def parse_values(path: Path, texts: list[str]) -> NDArray[np.float64]:
    """Floats; an empty cell is a missing reading (NaN)."""
    out = np.empty(len(texts), dtype=np.float64)
    for i, t in enumerate(texts):
        if not t:
            out[i] = np.nan
            continue
        try:
            out[i] = float(t)
        except ValueError:
            raise ScoreInputError(f"{path}: line {i + 2}: value {t!r} is not a number") from None
    return out


# --- scoring ---------------------------------------------------------------------------------------


ProgressFn = Callable[[int, int], None]


def score_series(
    series: Sequence[Series],
    detector: AnomalyScore,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressFn | None = None,
) -> list[NDArray[np.float64]]:
    """Scores per series (input row order), streaming all series together in timestamp order."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    rows = np.repeat(np.arange(len(series), dtype=np.int32), lengths)
    position = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])
    ts = np.concatenate([s.ts_ms for s in series])
    values = np.concatenate([s.values for s in series])
    arrival = np.lexsort((position, rows, ts))  # time order; ties keep file then row order
    scores = np.full(ts.size, np.nan, dtype=np.float64)
    state = detector.init_state(len(series))
    for start in range(0, arrival.size, batch_size):
        take = arrival[start : start + batch_size]
        # the worker's columnar layout: sorted by (sensor, ts_ms); equal pairs keep arrival order
        order = take[np.lexsort((ts[take], rows[take]))]
        batch = Batch(rows[order], ts[order], values[order])
        scores[order] = detector.step_in_place(state, batch)
        if progress is not None:
            progress(min(start + batch_size, arrival.size), arrival.size)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return [scores[offsets[i] : offsets[i + 1]] for i in range(len(series))]


def write_scores(path: Path, series: Series, scores: NDArray[np.float64], unscored: str = "0") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["timestamp", "value", "anomaly_score"])
        for t, v, s in zip(series.ts_text, series.value_text, scores.tolist(), strict=True):
            w.writerow([t, v, unscored if s != s else f"{s:.10g}"])


def score_directory(
    input_dir: Path,
    output_dir: Path,
    detector: AnomalyScore | None = None,
    batch_size: int = DEFAULT_BATCH,
    unscored: str = "0",
    progress: ProgressFn | None = None,
) -> ScoreSummary:
    """Read every CSV under ``input_dir``, score them together, write the results under ``output_dir``."""
    started = time.perf_counter()
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    paths = find_csvs(input_dir, exclude=output_dir)
    series = [read_series(p, p.relative_to(input_dir)) for p in paths]
    disorder = tuple(str(s.relative) for s in series if (np.diff(s.ts_ms) < 0).any())
    det = detector if detector is not None else AnomalyScore()
    all_scores = score_series(series, det, batch_size, progress)
    for s, sc in zip(series, all_scores, strict=True):
        write_scores(output_dir / s.relative, s, sc, unscored)
    readings = sum(len(s) for s in series)
    scored = int(sum(np.isfinite(sc).sum() for sc in all_scores))
    return ScoreSummary(len(series), readings, scored, time.perf_counter() - started, disorder)


class ProgressPrinter:
    """Prints ``scored N/M readings (P%)`` at most every ``every_s`` seconds, and at the end."""

    def __init__(self, stream: TextIO, every_s: float = 1.0) -> None:
        self._stream = stream
        self._every_s = every_s
        self._last = 0.0
        self._t0 = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self._last < self._every_s:
            return
        self._last = now
        rate = done / max(now - self._t0, 1e-9)
        pct = 100.0 * done / total if total else 100.0
        print(f"scored {done:,}/{total:,} readings ({pct:.0f}%), {rate:,.0f} readings/s", file=self._stream)
