"""Ingest decode throughput: the batch TypeAdapter path against one pydantic model per reading.

Wraps the payloads of ``ingest/bench.py`` (``python -m ingest.bench``: batch payloads of 100 and 1,000
readings over a 100,000-sensor registry, 90 % single-channel and 10 % elevator_status, clean and with
1 % bad readings) and times, side by side in one run, on one core:

* ``batch path``: :meth:`ingest.decode.PayloadDecoder.decode`, what the gateway runs: pydantic-core
  JSON parse, ``BatchPayload`` check, one ``READINGS_ADAPTER`` (``TypeAdapter(list[Reading])``)
  validation per batch (again without the bad ones when some fail), registry checks, dead letters;
* ``model loop`` (the baseline): the same parse, then ``Reading.model_validate`` once per reading in a
  Python loop, the same registry checks and dead letters (design.md §5 says not to do this);
* ``adapter only`` / ``model only``: just the validation step on the already parsed readings, to show
  what the two approaches cost without parsing and registry checks.

Each cell is the best of ``--rounds`` timed runs of ``--seconds`` (subjects interleaved, so a noisy
neighbour on the shared machine hits all of them); rates are readings per CPU-second
(``time.process_time``) and per wall-clock second.

    python -m benchmarks.ingest.bench [--sensors 100000] [--seconds 0.5] [--rounds 3] [--write]

``--write`` replaces the ``## Ingest decode`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pydantic
import pydantic_core
from pydantic import ValidationError

from benchmarks.pipeline.report import (
    command_line,
    fmt_rate,
    fmt_ratio,
    machine,
    machine_line,
    table,
    write_section,
)
from ingest.bench import GATEWAY, bench_payload, bench_registry
from ingest.decode import PayloadDecoder, sensor_rules
from riskstream.registry import Registry
from riskstream.schemas import READINGS_ADAPTER, BatchPayload, DeadLetter, DeadLetterReason, Reading

SECTION = "## Ingest decode"
TOPIC = f"riskstream/v1/{GATEWAY}/readings"


class ModelLoopDecoder:
    """The baseline: one ``Reading.model_validate`` per reading, otherwise what PayloadDecoder does."""

    def __init__(self, registry: Registry) -> None:
        self._rules = sensor_rules(registry)

    def decode(self, raw: bytes, received_ts_ms: int) -> tuple[list[Reading], list[DeadLetter]]:
        obj = pydantic_core.from_json(raw, allow_inf_nan=True, cache_strings="keys")
        batch = BatchPayload.model_validate(obj)
        good: list[Reading] = []
        dead: list[DeadLetter] = []
        for i, item in enumerate(batch.readings):
            try:
                r = Reading.model_validate(item)
            except ValidationError as exc:
                dead.append(
                    self._dead(f"readings[{i}]: {exc.errors(include_url=False)}", item, received_ts_ms)
                )
                continue
            rule = self._rules.get(r.sensor_id)
            ok = rule is not None and (not rule.gateway_id or rule.gateway_id == batch.gateway_id)
            if ok and rule is not None:
                ok = (
                    r.value is not None
                    if rule.channels is None
                    else (r.values is not None and r.values.keys() == rule.channels)
                )
            if ok:
                good.append(r)
            else:
                dead.append(self._dead(f"readings[{i}]: registry check failed", item, received_ts_ms))
        return good, dead

    @staticmethod
    def _dead(detail: str, item: Any, received_ts_ms: int) -> DeadLetter:
        raw = json.dumps(item, separators=(",", ":")).encode()
        return DeadLetter(
            reason=DeadLetterReason.INVALID_READING,
            detail=detail,
            gateway_id=GATEWAY,
            mqtt_topic=TOPIC,
            received_ts_ms=received_ts_ms,
            raw_b64=base64.b64encode(raw).decode(),
        )


def best_rate(fn: Callable[[], int], seconds: float) -> tuple[float, float]:
    """(readings per CPU-second, readings per wall second) of one timed run after a warm-up call."""
    fn()
    done = 0
    c0, w0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - w0 < seconds:
        done += fn()
    return done / max(time.process_time() - c0, 1e-9), done / (time.perf_counter() - w0)


def cycle(items: list[Any], step: Callable[[Any], int]) -> Callable[[], int]:
    k = [0]

    def run() -> int:
        k[0] += 1
        return step(items[k[0] % len(items)])

    return run


def run(sensors: int, seconds: float, rounds: int) -> list[dict[str, Any]]:
    registry = bench_registry(sensors)
    fast = PayloadDecoder(registry)
    slow = ModelLoopDecoder(registry)
    rng = random.Random(7)
    cells = []
    for n in (100, 1000):
        for bad in (0.0, 0.01):
            payloads = [bench_payload(n, sensors, bad, rng) for _ in range(20)]
            parsed = [json.loads(p)["readings"] for p in payloads]
            # the two full paths must agree before they are timed
            for p in payloads:
                a = fast.decode(p, TOPIC, 0)
                g, d = slow.decode(p, 0)
                assert (a.readings, len(a.dead)) == (g, len(d)), "baseline and product disagree"
            subjects: dict[str, Callable[[], int]] = {
                "batch path": cycle(payloads, lambda p: _count(fast.decode(p, TOPIC, 0))),
                "model loop": cycle(payloads, lambda p: sum(map(len, slow.decode(p, 0)))),
                "adapter only": cycle(parsed, _adapter_only),
                "model only": cycle(parsed, _model_only),
            }
            best: dict[str, tuple[float, float]] = {k: (0.0, 0.0) for k in subjects}
            for _ in range(rounds):
                for name, fn in subjects.items():
                    cpu, wall = best_rate(fn, seconds)
                    best[name] = (max(best[name][0], cpu), max(best[name][1], wall))
            cells.append({"batch": n, "bad": bad, **{k: v for k, v in best.items()}})
            print(
                f"batch {n:>5}, {bad:>4.0%} bad: "
                + "  ".join(f"{k} {fmt_rate(v[0])}" for k, v in best.items())
                + f"  ratio {best['batch path'][0] / best['model loop'][0]:.1f}x",
                flush=True,
            )
    return cells


def _count(res: Any) -> int:
    return len(res.readings) + len(res.dead)


def _adapter_only(items: list[Any]) -> int:
    try:
        return len(READINGS_ADAPTER.validate_python(items))
    except ValidationError:
        return len(items)


def _model_only(items: list[Any]) -> int:
    for item in items:
        with contextlib.suppress(ValidationError):
            Reading.model_validate(item)
    return len(items)


HEADER = [
    "batch",
    "bad",
    "batch path",
    "model loop (baseline)",
    "batch / loop",
    "adapter only",
    "model only",
    "adapter / model",
    "batch path, wall",
]


def markdown(
    cells: list[dict[str, Any]], info: dict[str, str], args: argparse.Namespace, command: str
) -> str:
    worst = min(cells, key=lambda c: c["batch path"][0] / c["model loop"][0])
    rows = [
        [
            f"{c['batch']:,}",
            f"{c['bad']:.0%}",
            fmt_rate(c["batch path"][0]),
            fmt_rate(c["model loop"][0]),
            fmt_ratio(c["batch path"][0] / c["model loop"][0]),
            fmt_rate(c["adapter only"][0]),
            fmt_rate(c["model only"][0]),
            fmt_ratio(c["adapter only"][0] / c["model only"][0]),
            fmt_rate(c["batch path"][1]),
        ]
        for c in cells
    ]
    lines = [
        SECTION,
        "",
        f"Produced by `{command}`. Readings per CPU-second on one core (best of {args.rounds} runs of"
        f" {args.seconds} s per cell, subjects interleaved), batch payloads of `ingest/bench.py` over"
        f" {args.sensors:,} sensors (90 % pipeline_pressure, 10 % elevator_status with four channels),"
        f" pydantic {pydantic.VERSION}.",
        "",
        machine_line(info),
        "",
        *table(HEADER, rows),
        "",
        "- `batch path`: `ingest.decode.PayloadDecoder.decode` (what the gateway runs: JSON parse,"
        " `BatchPayload`, one `TypeAdapter(list[Reading])` validation per batch, registry checks, a dead"
        " letter per bad reading). `model loop`: the same parse and checks with `Reading.model_validate`"
        " once per reading (`ModelLoopDecoder` in the benchmark; the two are checked to give the same"
        " readings and dead-letter counts before timing). `adapter only` / `model only`: the validation"
        " step alone on already parsed readings. `batch path, wall`: the same cell in wall-clock time.",
        "- With bad readings the batch path validates a batch twice (`ingest/decode.py`,"
        " `PayloadDecoder._decode_batch`: the second time without the readings the first error named);"
        f" its worst cell, {worst['bad']:.0%} bad readings in batches of {worst['batch']:,}, runs at"
        f" {fmt_ratio(worst['batch path'][0] / worst['model loop'][0])} of the per-model loop.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="replace our section of benchmarks/RESULTS.md")
    args = ap.parse_args()
    command = command_line()
    info = machine(pydantic=pydantic.VERSION)
    cells = run(args.sensors, args.seconds, args.rounds)
    text = markdown(cells, info, args, command)
    print()
    print(text)
    if args.write:
        write_section(SECTION, text)
        print("wrote benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
