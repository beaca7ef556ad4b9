"""``riskstream simulate``: run a labelled scenario and publish it over MQTT, or write it to files.

The registry is the config's (``registry = …``) when that file exists, unless ``--sensors N`` asks for
a generated one; a generated registry can be saved with ``--registry-out`` so the pipeline loads the
same sensors. Without ``--write`` the ticks go to the MQTT broker of the config, one batch payload per
gateway per tick, as fast as the broker acknowledges or paced with ``--realtime`` / ``--speed X``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from riskstream.registry import Registry, RegistryError
from riskstream.settings import RiskstreamSettings, load_settings
from simulators.malformed import malformed_examples
from simulators.publisher import MqttPublisher, PublishError, PublishStats
from simulators.registry_gen import make_registry
from simulators.scenario import (
    DEFAULT_DURATION_S,
    DEFAULT_SEED,
    DEFAULT_START_TS_MS,
    DEFAULT_TICK_MS,
    Scenario,
)

EXAMPLE_SENSORS, EXAMPLE_SEED = 200, 7  # deploy/registry.example.csv = make_registry(200, seed=7)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate sensors with labelled incidents: publish to MQTT or write files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="riskstream TOML config (MQTT broker, registry path)")
    p.add_argument("--sensors", type=int, metavar="N", help="generate a registry of N sensors")
    p.add_argument(
        "--gateways", type=int, metavar="N", help="with --sensors: group the sites onto N gateways"
    )
    p.add_argument("--duration-s", type=float, default=DEFAULT_DURATION_S, metavar="S", help="simulated time")
    p.add_argument("--tick-ms", type=int, default=DEFAULT_TICK_MS, metavar="MS", help="reporting period")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of signals and incidents")
    p.add_argument(
        "--start",
        default="auto",
        metavar="WHEN",
        help="start time: ISO 8601, epoch ms, 'now', or 'auto' (default: 2026-07-01T00:00Z when writing "
        "files; now when paced; now minus the duration when publishing as fast as possible)",
    )
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="publish in real time (same as --speed 1)")
    pace.add_argument("--speed", type=float, metavar="X", help="publish at X times real time")
    p.add_argument("--no-incidents", action="store_true", help="clean signals only")
    p.add_argument(
        "--malformed", action="store_true", help="also publish the malformed-payload examples once"
    )
    p.add_argument(
        "--write", metavar="DIR", help="write registry.csv, readings.jsonl, incidents.json instead"
    )
    p.add_argument("--registry-out", metavar="FILE", help="save the registry used to FILE (CSV)")
    p.add_argument("--verify", action="store_true", help="re-check every label from the raw signal first")
    p.add_argument("--max-inflight", type=int, default=200, metavar="N", help="unacknowledged MQTT messages")
    p.set_defaults(func=run)


def _start_ts_ms(text: str, *, writing: bool, paced: bool, duration_s: float, tick_ms: int) -> int:
    if text == "auto":
        if writing:
            return DEFAULT_START_TS_MS
        text = "now" if paced else "past"
    now_ms = int(time.time() * 1000) // tick_ms * tick_ms
    if text == "now":
        return now_ms
    if text == "past":
        return now_ms - int(duration_s * 1000)
    if text.isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _registry(args: argparse.Namespace, settings: RiskstreamSettings) -> tuple[Registry, str]:
    if args.sensors is not None:
        reg = make_registry(args.sensors, seed=args.seed, gateways=args.gateways)
        return reg, f"generated ({args.sensors} sensors, seed {args.seed})"
    if Path(settings.registry).is_file():
        return Registry.load(settings.registry), str(settings.registry)
    reg = make_registry(EXAMPLE_SENSORS, seed=EXAMPLE_SEED)
    return reg, f"generated example ({EXAMPLE_SENSORS} sensors; {settings.registry} not found)"


def _clock(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: invalid config: {exc}", file=sys.stderr)
        return 1
    if args.duration_s <= 0 or args.tick_ms <= 0:
        print("error: --duration-s and --tick-ms must be positive", file=sys.stderr)
        return 2
    speed = 1.0 if args.realtime else args.speed
    if speed is not None and speed <= 0:
        print("error: --speed must be positive", file=sys.stderr)
        return 2
    try:
        registry, source = _registry(args, settings)
        start = _start_ts_ms(
            args.start,
            writing=bool(args.write),
            paced=speed is not None,
            duration_s=args.duration_s,
            tick_ms=args.tick_ms,
        )
        scenario = Scenario(
            registry,
            seed=args.seed,
            start_ts_ms=start,
            duration_s=args.duration_s,
            tick_ms=args.tick_ms,
            with_incidents=not args.no_incidents,
        )
    except (RegistryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    meta = scenario.describe()
    print(f"registry: {source}: {len(registry)} sensors, {meta['n_gateways']} gateways")
    print(
        f"scenario: seed {scenario.seed}, {_clock(scenario.start_ts_ms)} → {_clock(scenario.end_ts_ms)}, "
        f"{scenario.n_ticks} ticks of {scenario.tick_ms} ms, {scenario.n_readings} readings"
    )
    for inc in scenario.expected():
        when = _clock(inc.start_ts_ms)
        print(f"  incident {inc.sensor_id:<12} {inc.rule:<24} {inc.expected_level:<6} at {when}")
    if args.registry_out:
        registry.save(args.registry_out)
        print(f"registry written to {args.registry_out}")
    if args.verify:
        from simulators.oracle import check  # deferred: it replays the whole scenario once

        problems = check(scenario)
        for p in problems:
            print(f"  label problem: {p}")
        print(f"verify: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        if problems:
            return 1
    if args.write:
        files = scenario.write(args.write)
        print(f"wrote {files.n_readings} readings to {files.readings}; labels in {files.incidents}")
        return 0
    return _publish(args, settings, scenario, speed)


def _publish(
    args: argparse.Namespace, settings: RiskstreamSettings, scenario: Scenario, speed: float | None
) -> int:
    m = settings.mqtt
    publisher = MqttPublisher(
        m.host,
        m.port,
        username=m.username or None,
        password=m.password,
        topic_prefix=m.topic_prefix,
        qos=m.qos,
        client_id=f"riskstream-simulator-{os.getpid()}",
        keepalive_s=m.keepalive_s,
        max_inflight=args.max_inflight,
    )
    total_ticks = scenario.n_ticks

    def progress(s: PublishStats) -> None:
        print(
            f"  {_clock(s.last_tick_ts_ms)} tick {s.ticks}/{total_ticks}: {s.payloads} payloads "
            f"({s.acked_payloads} acked), {s.readings} readings, {s.readings_per_s:,.0f} readings/s",
            flush=True,
        )

    pace = "as fast as acknowledged" if speed is None else f"at {speed:g}× real time"
    print(f"publishing to mqtt://{m.host}:{m.port}/{m.topic_prefix}/<gateway>/readings (QoS {m.qos}) {pace}")
    try:
        publisher.connect()
        try:
            if args.malformed:
                bad = malformed_examples(scenario.registry, scenario.start_ts_ms, m.topic_prefix)
                for ex in bad:
                    publisher.publish_raw(ex.topic, ex.payload)
                publisher.flush()
                print(f"published {len(bad)} malformed payloads (expect dead letters)")
            stats = publisher.publish_ticks(scenario.ticks(), speed=speed, progress=progress)
        finally:
            publisher.close()
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"done: {stats.acked_payloads} payloads, {stats.acked_readings} readings acknowledged "
        f"in {stats.elapsed_s:.1f} s ({stats.readings_per_s:,.0f} readings/s)"
    )
    return 0
