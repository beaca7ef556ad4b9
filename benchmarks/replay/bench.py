"""Replay throughput: ``riskstream replay``, file in to alerts out, on a mixed 100,000-sensor registry.

The input is written once by the simulators (``Scenario.generate(N, seed=1, duration_s=5 × ticks)
.write(dir)``: registry.csv and readings.jsonl, every sensor once per 5 s tick, all five families, each
tick's readings jittered so the file is not in time order) and cached under ``--data-dir``. Then each
subject runs the command's own code path (:func:`riskstream.commands.replay.replay_files`) in this
process, one after the other:

* ``all rules``: the default rule set (``detectors.domain.default_rules()``) and default lifecycle;
* ``all rules, pure engine path``: the same with the engine's pure path (``in_place=False``: every call
  copies the learned state of the rules it runs) instead of the in-place path the command uses;
* ``all rules, lifecycle on``: the same with debounce, hysteresis, escalation, de-escalation,
  flapping and learned deadman switched on for every rule (:data:`BUSY_LIFECYCLE`);
* ``five original rules``: gas_two_stage, rainstorm, elevator_overspeed, landslide_tangent_angle,
  pipeline_pressure_drop, default lifecycle;
* ``decode only``: reading and sorting the file (:func:`riskstream.commands.replay.read_readings`).

Every figure counts the whole call: registry load, engine build, decoding, sorting, the engine and
writing alerts. Readings per CPU-second (``time.process_time``) is the figure to compare on the shared
machine; wall-clock is shown too.

Usage: ``python -m benchmarks.replay.bench [--sensors 100000] [--ticks 20] [--write]``; ``--write``
replaces the ``## Replay throughput`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.pipeline.report import RESULTS, write_section
from detectors.domain import (
    ElevatorOverspeed,
    GasTwoStage,
    LandslideTangentAngle,
    PipelinePressureDrop,
    Rainstorm,
)
from riskstream.commands.replay import ReplaySummary, read_readings, replay_files
from riskstream.registry import Registry
from simulators.scenario import DEFAULT_TICK_MS, Scenario

SECTION = "## Replay throughput"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / ".riskstream" / "bench-replay"
BUSY_LIFECYCLE = """
[alarm]
raise_readings = 2
raise_window = 3
clear_levels = { orange = "yellow", red = "orange" }
clear_hold_ms = 10000
escalate_after_ms = { yellow = 1800000, orange = 1800000 }
deescalate_step_ms = 60000
flap_transitions = 5
flap_window_ms = 600000
flap_settle_ms = 300000

[deadman]
learn_interval = true
factor = 3.0

[agreement]
at_level = "orange"
"""


@dataclass(frozen=True, slots=True)
class Row:
    subject: str
    summary: ReplaySummary
    cpu_s: float
    wall_s: float


def data(sensors: int, ticks: int, root: Path) -> tuple[Path, Path, int]:
    d = root / f"{sensors}-sensors-{ticks}-ticks"
    reg, inp = d / "registry.csv", d / "readings.jsonl"
    if not (reg.exists() and inp.exists()):
        started = time.perf_counter()
        files = Scenario.generate(sensors, seed=1, duration_s=ticks * DEFAULT_TICK_MS / 1000).write(d)
        print(f"wrote {files.n_readings:,} readings to {d} in {time.perf_counter() - started:.0f} s")
    with inp.open("rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))
    return reg, inp, lines


def run_subject(name: str, reg: Path, inp: Path, out_dir: Path, **kw: object) -> Row:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    summary = replay_files(registry=reg, input_path=inp, output_path=out_dir / f"{name}.jsonl", **kw)  # type: ignore[arg-type]
    row = Row(name, summary, time.process_time() - cpu, time.perf_counter() - wall)
    print(
        f"{name}: {summary.readings:,} readings, {summary.alerts:,} alerts, CPU {row.cpu_s:.1f} s "
        f"({summary.readings / row.cpu_s:,.0f}/s), wall {row.wall_s:.1f} s"
    )
    return row


def decode_only(reg: Path, inp: Path) -> Row:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    summary = ReplaySummary()
    registry = Registry.load(reg)
    with inp.open("rb") as fh:
        read_readings(fh, registry, summary)
    row = Row("decode only", summary, time.process_time() - cpu, time.perf_counter() - wall)
    rate = summary.readings / row.cpu_s
    print(f"decode only: {summary.readings:,} readings, CPU {row.cpu_s:.1f} s ({rate:,.0f}/s)")
    return row


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"date {now}; nproc {os.cpu_count()}; cpu {cpu}; python {platform.python_version()}; "
        f"numpy {numpy.__version__}; load average at start {load}"
    )


def markdown(rows: list[Row], sensors: int, ticks: int, lines: int, info: str) -> str:
    head = (
        f"{SECTION}\n\n"
        f"Produced by `python -m benchmarks.replay.bench --sensors {sensors} --ticks {ticks} --write`. "
        f"Input: `Scenario.generate({sensors:,}, seed=1)` written by the simulators, {lines:,} Reading v1 "
        f"JSON lines (every sensor once per 5 s tick for {ticks} ticks, 16 kinds in all five families, "
        "20 % multi-channel elevator lines, jittered so the file is not in time order). Each subject is "
        "the command's own code path (`replay_files`: registry load, engine build, decode, stable sort by "
        "ts_ms, the engine in batches of 100,000 through its in-place path, alerts written), one core.\n\n"
        f"Machine: {info}.\n\n"
        "| subject | readings | alerts | readings per CPU-s, whole command | without setup "
        "| CPU s: setup + decode + detect | wall s |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    body = ""
    for r in rows:
        s = r.summary
        decode = s.read_cpu_s - s.setup_cpu_s
        split = f"{s.setup_cpu_s:.1f} + {decode:.1f} + {s.detect_cpu_s:.1f}" if s.detect_cpu_s else "-"
        steady = s.readings / max(r.cpu_s - s.setup_cpu_s, 1e-9)
        body += (
            f"| {r.subject} | {s.readings:,} | {s.alerts:,} | {s.readings / r.cpu_s:,.0f} /s "
            f"| {steady:,.0f} /s | {split} | {r.wall_s:.1f} |\n"
        )
    rate = {r.subject: r.summary.readings / r.cpu_s for r in rows if r.summary.detect_cpu_s}
    verdict = "; ".join(
        f"{k}: {'meets' if v >= 500_000 else 'misses'} it ({v:,.0f}/s)" for k, v in rate.items()
    )
    notes = (
        "\n- setup = registry load (CSV and the JSON params of every sensor) and engine build (every "
        "rule's per-sensor set points, the lifecycle settings); decode = reading, decoding and sorting "
        "the file (a vectorised fast path for canonical lines; other lines fall back to orjson and the "
        "Reading v1 TypeAdapter); detect = the engine and writing the alerts. `without setup` leaves out "
        "the fixed setup, which does not grow with the file.\n"
        "- `lifecycle on`: debounce 2 of 3, level hysteresis, 10 s clear hold, escalation after 30 min, "
        "de-escalation steps, flapping, learned deadman and two-rule agreement for every rule and sensor.\n"
        f"- Target ≥ 500,000 readings/s on one core, file in to alerts out (whole command): {verdict}. "
        "Detect includes the data-quality checks (QARTOD flags of every reading, `detectors/quality`) "
        "before the rules; `pure engine path` is the same run with `Engine.evaluate(..., in_place=False)` "
        "(the state of every rule with readings copied per call), which gives the same alerts.\n"
        "- Reproduce: `python -m benchmarks.replay.bench --ticks N` (input cached under "
        ".riskstream/bench-replay/), or the command itself: `riskstream replay --registry "
        "DIR/registry.csv --input DIR/readings.jsonl --output /tmp/alerts.jsonl`.\n"
    )
    return head + body + notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--ticks", type=int, default=20)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--only", choices=["all", "pure", "busy", "five", "decode"], nargs="*", help="subjects to run"
    )
    ap.add_argument("--write", action="store_true", help=f"write the results into {RESULTS}")
    args = ap.parse_args()
    reg, inp, lines = data(args.sensors, args.ticks, args.data_dir)
    info = machine()
    out = args.data_dir / "out"
    out.mkdir(parents=True, exist_ok=True)
    busy = out / "busy-lifecycle.toml"
    busy.write_text(BUSY_LIFECYCLE)
    five = [GasTwoStage(), Rainstorm(), ElevatorOverspeed(), LandslideTangentAngle(), PipelinePressureDrop()]
    todo = set(args.only or ["all", "pure", "busy", "five", "decode"])
    rows: list[Row] = []
    if "five" in todo:
        rows.append(run_subject("five original rules", reg, inp, out, rules=five))
    if "all" in todo:
        rows.append(run_subject("all rules", reg, inp, out))
    if "pure" in todo:
        rows.append(run_subject("all rules, pure engine path", reg, inp, out, in_place=False))
    if "busy" in todo:
        rows.append(run_subject("all rules, lifecycle on", reg, inp, out, config_path=busy))
    if "decode" in todo:
        rows.append(decode_only(reg, inp))
    text = markdown(rows, args.sensors, args.ticks, lines, info)
    print()
    print(text)
    if args.write:
        write_section(SECTION, text)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
