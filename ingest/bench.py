"""Decode throughput benchmark: ``python -m ingest.bench [--sensors N] [--seconds S]``.

Measures :func:`ingest.decode.decode_payload` (JSON parse + one TypeAdapter validation per batch +
registry checks) on batch payloads of 100 and 1,000 readings, clean and with 1 % bad readings, plus
the cost of encoding the valid readings as Kafka record values. One core, no I/O.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable

from ingest.decode import PayloadDecoder
from ingest.encode import reading_json
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Family

GATEWAY = "gw-bench"


def bench_registry(n_sensors: int) -> Registry:
    """``n_sensors`` sensors on gateway ``gw-bench``: 90 % single-channel, 10 % elevator_status."""
    sensors = []
    for i in range(n_sensors):
        elevator = i % 10 == 9
        sensors.append(
            Sensor(
                sensor_id=f"s-{i:06d}",
                family=Family.ELEVATOR if elevator else Family.GAS_PIPELINE,
                kind="elevator_status" if elevator else "pipeline_pressure",
                site=f"site-{i // 50}",
                area=f"area-{i // 5000}",
                lat=31.0,
                lon=117.0,
                gateway_id=GATEWAY,
                unit="mixed" if elevator else "kPa",
            )
        )
    return Registry(sensors)


def bench_payload(n: int, n_sensors: int, bad_fraction: float, rng: random.Random) -> bytes:
    readings = []
    for j in range(n):
        i = rng.randrange(n_sensors)
        if i % 10 == 9:
            r = {
                "v": 1,
                "sensor_id": f"s-{i:06d}",
                "ts_ms": 1_700_000_000_000 + j,
                "values": {"speed_mps": 1.5, "door_open": 0.0, "in_door_zone": 0.0, "occupied": 1.0},
            }
        else:
            r = {"v": 1, "sensor_id": f"s-{i:06d}", "ts_ms": 1_700_000_000_000 + j, "value": 101.3 + j % 7}
        if rng.random() < bad_fraction:
            r["ts_ms"] = "yesterday"
        readings.append(r)
    return json.dumps({"v": 1, "gateway_id": GATEWAY, "readings": readings}).encode()


def _rate(fn: Callable[[], int], seconds: float) -> float:
    fn()  # warm up
    done, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        done += fn()
    return done / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    registry = bench_registry(args.sensors)
    decoder = PayloadDecoder(registry)
    topic = f"riskstream/v1/{GATEWAY}/readings"
    rng = random.Random(7)
    print(f"decode throughput, {platform.python_implementation()} {platform.python_version()}, one core")
    for n in (100, 1000):
        for bad in (0.0, 0.01):
            payloads = [bench_payload(n, args.sensors, bad, rng) for _ in range(20)]
            k = [0]

            def decode_one(payloads: list[bytes] = payloads, k: list[int] = k) -> int:
                k[0] += 1
                res = decoder.decode(payloads[k[0] % len(payloads)], topic, 0)
                return len(res.readings) + len(res.dead)

            def decode_encode(payloads: list[bytes] = payloads, k: list[int] = k) -> int:
                k[0] += 1
                res = decoder.decode(payloads[k[0] % len(payloads)], topic, 0)
                for r in res.readings:
                    reading_json(r)
                return len(res.readings) + len(res.dead)

            r1 = _rate(decode_one, args.seconds)
            r2 = _rate(decode_encode, args.seconds)
            print(
                f"batch {n:>5} readings, {bad:>4.0%} bad: decode {r1:>10,.0f} readings/s   "
                f"decode+encode {r2:>10,.0f} readings/s"
            )


if __name__ == "__main__":
    main()
