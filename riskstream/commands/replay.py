"""``riskstream replay``: run recorded readings through exactly the live detector and alarm code, offline.

    riskstream replay --registry REGISTRY.csv --input READINGS.jsonl --output ALERTS.jsonl \\
        [--config ALARMS.toml] [--actions ACTIONS.jsonl]

Reads Reading v1 JSON lines in any order, sorts them by ``ts_ms`` (stable: ties keep file order), feeds
them in batches to :class:`detectors.engine.Engine` - the object the worker runs, through the same
in-place path (``in_place=True``) - together with the operator actions (each after the readings stamped
at or before it), and writes every alert as an Alert v1 JSON line. The operators' tool to back-test a
rule or alarm-settings change before deploying it. Lines that are not readings of the registry's sensors
are reported with their line numbers and skipped; they never stop the run. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from detectors.domain import DomainRule
from detectors.engine import Engine, EngineState
from detectors.lifecycle import LifecycleConfig, LifecycleConfigError
from detectors.rows import put_rows
from riskstream.alarm_config import load_alarm_config, parse_action_lines
from riskstream.jsonl_readings import VALUE_COLUMNS, BadLine, ReadingLineDecoder, iter_blocks
from riskstream.registry import Registry, RegistryError
from riskstream.schemas import Alert, OperatorAction

DEFAULT_BATCH = 100_000
#: bad lines printed one by one; the rest are only counted
SHOW_BAD_LINES = 20


@dataclass(slots=True)
class ReplaySummary:
    lines: int = 0
    readings: int = 0
    bad_lines: int = 0
    fast_lines: int = 0
    actions: int = 0
    bad_action_lines: int = 0
    unmatched_actions: int = 0
    alerts: int = 0
    read_s: float = 0.0
    detect_s: float = 0.0
    total_s: float = 0.0
    #: CPU seconds of this process (``time.process_time``): the fair figure on a shared machine
    setup_cpu_s: float = 0.0  # registry load and engine build (part of read)
    read_cpu_s: float = 0.0
    detect_cpu_s: float = 0.0
    total_cpu_s: float = 0.0
    alerts_by_event: dict[str, int] = field(default_factory=dict)

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.total_s if self.total_s > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class ReadingColumns:
    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="back-test: recorded readings (+ operator actions) through the live engine -> alerts file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--registry", required=True, type=Path, help="sensor registry CSV")
    p.add_argument("--input", required=True, type=Path, help="Reading v1 JSON lines, any order")
    p.add_argument("--output", required=True, type=Path, help="Alert v1 JSON lines to write")
    p.add_argument("--config", type=Path, help="alarm lifecycle settings TOML (docs/alarms/tuning.md)")
    p.add_argument("--actions", type=Path, help="operator actions, one control message (JSON) per line")
    p.add_argument("--config-version", help="label stamped on every alert (default: the file's, else 1)")
    p.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help=f"readings per engine call ({DEFAULT_BATCH})"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output, only the summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = sys.stderr
    try:
        summary = replay_files(
            registry=args.registry,
            input_path=args.input,
            output_path=args.output,
            config_path=args.config,
            actions_path=args.actions,
            config_version=args.config_version,
            batch=args.batch,
            progress=None if args.quiet else lambda text: print(text, file=out, flush=True),
            report_bad=lambda text: print(text, file=out, flush=True),
        )
    except (RegistryError, LifecycleConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=out)
        return 2
    events = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.alerts_by_event.items())) or "none"
    print(
        f"replay: {summary.readings:,} readings from {summary.lines:,} lines ({summary.bad_lines:,} bad), "
        f"{summary.actions:,} actions ({summary.unmatched_actions:,} unmatched, "
        f"{summary.bad_action_lines:,} bad lines) -> {summary.alerts:,} alerts ({events}) in "
        f"{summary.total_s:.1f} s (CPU {summary.total_cpu_s:.1f} s: read {summary.read_cpu_s:.1f} s, detect "
        f"{summary.detect_cpu_s:.1f} s), {summary.readings_per_s:,.0f} readings/s",
        file=out,
    )
    return 0


def replay_files(
    *,
    registry: Path | Registry,
    input_path: Path,
    output_path: Path,
    config_path: Path | None = None,
    actions_path: Path | None = None,
    config_version: str | None = None,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[str], None] | None = None,
    report_bad: Callable[[str], None] | None = None,
    rules: Sequence[DomainRule] | None = None,
    in_place: bool = True,
) -> ReplaySummary:
    """The whole command: files in, alerts file out. Raises for an unusable registry or config.

    ``rules`` replaces the default rule set (as :class:`Engine` does); the command never sets it.
    ``in_place=False`` runs the engine's pure path instead (same alerts; for benchmarks)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    if batch < 1:
        raise ValueError("--batch must be ≥ 1")
    reg = registry if isinstance(registry, Registry) else Registry.load(registry)
    lifecycle, version = LifecycleConfig(), "1"
    if config_path is not None:
        cfg = load_alarm_config(config_path)
        lifecycle, version = cfg.lifecycle, cfg.config_version or version
    engine = Engine(reg, config_version=config_version or version, rules=rules, lifecycle=lifecycle)
    summary = ReplaySummary(setup_cpu_s=time.process_time() - started_cpu)
    shown = 0

    def bad_line(where: str, line: int, reason: str) -> None:
        nonlocal shown
        if report_bad is not None and shown < SHOW_BAD_LINES:
            report_bad(f"{where}:{line}: skipped: {reason}")
        shown += 1

    actions: list[OperatorAction] = []
    if actions_path is not None:
        parsed = parse_action_lines(Path(actions_path).read_bytes())
        actions = parsed.actions
        summary.bad_action_lines = len(parsed.bad)
        for line, reason in parsed.bad:
            bad_line(str(actions_path), line, reason)
    with Path(input_path).open("rb") as fh:
        cols = read_readings(
            fh, reg, summary, lambda b: bad_line(str(input_path), b.line, b.reason), progress
        )
    if report_bad is not None and shown > SHOW_BAD_LINES:
        report_bad(f"... {shown - SHOW_BAD_LINES:,} more bad lines not shown")
    summary.read_s = time.perf_counter() - started
    summary.read_cpu_s = time.process_time() - started_cpu
    summary.actions = len(actions)
    detect_started, detect_cpu = time.perf_counter(), time.process_time()
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    n = cols.rows.size
    next_report = time.perf_counter() + 2.0
    with output_path.open("w", encoding="utf-8") as out:
        stream = replay_columns(engine, engine.init_state(), cols, actions, batch, in_place=in_place)
        for done, alerts, unmatched in stream:
            summary.unmatched_actions += unmatched
            for a in alerts:
                out.write(a.model_dump_json())
                out.write("\n")
                summary.alerts_by_event[a.event.value] = summary.alerts_by_event.get(a.event.value, 0) + 1
            summary.alerts += len(alerts)
            if progress is not None and time.perf_counter() >= next_report:
                rate = done / max(time.perf_counter() - detect_started, 1e-9)
                progress(
                    f"replay: {done:,}/{n:,} readings through the engine, {summary.alerts:,} alerts, "
                    f"{rate:,.0f}/s"
                )
                next_report = time.perf_counter() + 2.0
    summary.detect_s = time.perf_counter() - detect_started
    summary.detect_cpu_s = time.process_time() - detect_cpu
    summary.total_s = time.perf_counter() - started
    summary.total_cpu_s = time.process_time() - started_cpu
    return summary


def read_readings(
    fh: BinaryIO,
    registry: Registry,
    summary: ReplaySummary | None = None,
    on_bad: Callable[[BadLine], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReadingColumns:
    """Decode a whole JSON-lines file and sort it by ``ts_ms`` (stable: ties keep file order)."""
    decoder = ReadingLineDecoder(registry)
    summary = summary if summary is not None else ReplaySummary()
    parts = []
    started = time.perf_counter()
    next_report = started + 2.0
    first = 1
    for block in iter_blocks(fh):
        d = decoder.decode(block, first)
        first += d.total_lines
        parts.append((d.rows, d.ts_ms, d.values))
        summary.lines += d.lines
        summary.fast_lines += d.fast
        summary.bad_lines += len(d.bad)
        if on_bad is not None:
            for b in d.bad:
                on_bad(b)
        if progress is not None and time.perf_counter() >= next_report:
            rate = summary.lines / (time.perf_counter() - started)
            progress(f"replay: read {summary.lines:,} lines ({summary.bad_lines:,} bad), {rate:,.0f} lines/s")
            next_report = time.perf_counter() + 2.0
    if not parts:
        cols = ReadingColumns(
            np.empty(0, np.int32), np.empty(0, np.int64), np.empty((0, VALUE_COLUMNS), np.float64)
        )
    else:
        rows = np.concatenate([p[0] for p in parts])
        ts = np.concatenate([p[1] for p in parts])
        order = stable_time_order(ts)
        if order is None:
            cols = ReadingColumns(rows, ts, np.concatenate([p[2] for p in parts]))
        else:
            cols = ReadingColumns(rows[order], ts[order], _sorted_values([p[2] for p in parts], order))
    summary.readings = int(cols.rows.size)
    return cols


def _sorted_values(blocks: Sequence[NDArray[np.float64]], order: NDArray[np.int64]) -> NDArray[np.float64]:
    """``np.concatenate(blocks)[order]``, each block's rows written straight to their sorted places (no
    concatenated copy of every value: one large array fewer to allocate and fill)."""
    n = order.size
    place = np.empty(n, dtype=np.int64)  # the sorted position of each reading in file order
    place[order] = np.arange(n)
    out = np.empty((n, VALUE_COLUMNS), dtype=np.float64)
    start = 0
    for block in blocks:
        stop = start + block.shape[0]
        put_rows(out, place[start:stop], block)
        start = stop
    return out


def stable_time_order(ts: NDArray[np.int64]) -> NDArray[np.int64] | None:
    """The stable sort order of ``ts`` (ties keep their order), None when already sorted.

    Sorted by one unique key per reading, ``(ts - min) · n + position``, with numpy's fast unstable
    sort (unique keys make any sort stable); a span too long for that key takes the stable sort.
    """
    n = int(ts.size)
    if n < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return None
    lo, hi = int(ts.min()), int(ts.max())
    if (hi - lo + 1) * n >= 1 << 62:
        return np.argsort(ts, kind="stable")
    key = ts - lo
    key *= n
    key += np.arange(n, dtype=np.int64)
    return np.argsort(key)


def replay_columns(
    engine: Engine,
    state: EngineState,
    cols: ReadingColumns,
    actions: Sequence[OperatorAction],
    batch: int = DEFAULT_BATCH,
    *,
    in_place: bool = True,
) -> Iterator[tuple[int, list[Alert], int]]:
    """Feed readings sorted by ``ts_ms`` and actions to the engine in batches of ``batch`` readings.

    The stream is the readings in order with each action placed after the readings stamped at or
    before it (actions in ``ts_ms`` order, ties keep their order); each engine call gets a contiguous
    piece of that stream. Yields ``(readings done, alerts, unmatched actions)`` per call; the final
    state is the generator's return value.

    ``state`` is handed over: by default the engine writes each new state into its arrays
    (``Engine.evaluate(..., in_place=True)``, no per-call copy of per-sensor arrays), so the caller must
    not use it afterwards; ``in_place=False`` keeps it untouched (the pure engine path).
    """
    acts = sorted(actions, key=lambda a: a.ts_ms)
    n = cols.rows.size
    # an action goes with the engine call that holds the reading just before it
    where = np.searchsorted(cols.ts_ms, np.array([a.ts_ms for a in acts], dtype=np.int64), side="right")
    calls = max(-(-n // batch), 1)
    call_of = np.minimum(np.maximum(where - 1, 0) // batch, calls - 1)
    by_call: dict[int, list[OperatorAction]] = {}
    for a, k in zip(acts, call_of.tolist(), strict=True):
        by_call.setdefault(k, []).append(a)
    for c in range(calls):
        lo, hi = c * batch, min((c + 1) * batch, n)
        mine = by_call.get(c, [])
        out = engine.evaluate(
            state, cols.rows[lo:hi], cols.ts_ms[lo:hi], cols.values[lo:hi], mine, in_place=in_place
        )
        state = out.state
        yield hi, out.alerts, len(out.unmatched_actions)
    return state
