"""``riskstream demo``: the whole pipeline on the local stack, with a live summary.

Brings the embedded stack up, then runs in one process: the simulator publishing a labelled scenario
over MQTT, the gateway (MQTT -> Kafka), and the detector worker (Kafka -> InfluxDB + alerts). The
scenario's simulated time runs faster than the wall clock (``--speed``) so that slow hazards, such
as a landslide accelerating over several minutes, happen within the demo's duration.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from riskstream.live_summary import LiveSummary, PipelineCounts, format_alert
from riskstream.settings import RiskstreamSettings, load_settings

log = logging.getLogger("riskstream.demo")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run simulator + gateway + detector on the local stack with a live summary"
    )
    p.add_argument("--config", help="riskstream TOML config (default: built-in defaults + environment)")
    p.add_argument("--duration", type=float, default=60.0, help="wall-clock seconds to run (default 60)")
    p.add_argument("--sensors", type=int, default=2000, help="simulated sensors (default 2000)")
    p.add_argument("--sim-minutes", type=float, default=40.0, help="simulated minutes of data (default 40)")
    p.add_argument("--tick-ms", type=int, default=5000, help="simulated reporting interval (default 5000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-stack", action="store_true", help="use services that are already running")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.duration <= 0 or args.sensors <= 0:
        print("error: --duration and --sensors must be positive", file=sys.stderr)
        return 2
    if not args.no_stack:
        from riskstream.stack.manager import StackManager

        print("==> starting the local stack (installs what is missing)", flush=True)
        StackManager(settings, progress=lambda m: print(f"    {m}", flush=True)).up()
    return Demo(settings, args).run()


class Demo:
    def __init__(self, settings: RiskstreamSettings, args: argparse.Namespace) -> None:
        from simulators.scenario import Scenario

        self.settings = settings
        self.args = args
        sim_s = args.sim_minutes * 60
        now_ms = int(time.time() * 1000)
        # the simulated window ends now, so its points land in the last minutes of the boards
        self.scenario = Scenario.generate(
            args.sensors,
            seed=args.seed,
            start_ts_ms=now_ms - int(sim_s * 1000),
            duration_s=sim_s,
            tick_ms=args.tick_ms,
        )
        self.speed = sim_s / args.duration
        self.registry = self.scenario.registry
        self._stop = threading.Event()
        self.published = 0

    def _ticks(self) -> Iterator[tuple[int, dict[str, dict[str, Any]]]]:
        for tick in self.scenario.ticks():
            if self._stop.is_set():
                return
            yield tick

    def _publish(self) -> None:
        from simulators.publisher import MqttPublisher

        m = self.settings.mqtt
        pub = MqttPublisher(
            m.host,
            m.port,
            username=m.username,
            password=m.password,
            topic_prefix=m.topic_prefix,
            qos=m.qos,
            client_id="riskstream-demo-simulator",
        )
        pub.connect()
        try:

            def progress(stats: Any) -> None:
                self.published = stats.readings

            pub.publish_ticks(self._ticks(), speed=self.speed, progress=progress, progress_every_s=0.5)
        finally:
            pub.close()

    def run(self) -> int:
        from ingest.gateway import Gateway
        from streams.factory import build_worker

        data_dir = self.settings.stack.data_dir / "demo"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.registry.save(data_dir / "registry.csv")
        d = self.scenario.describe()
        print(
            f"==> scenario: {len(self.registry)} sensors, {d['n_readings']} readings over "
            f"{self.args.sim_minutes:g} simulated minutes at {self.speed:.0f}x, "
            f"{len(self.scenario.expected())} labelled incidents (registry: {data_dir / 'registry.csv'})",
            flush=True,
        )
        mqtt = self.settings.mqtt.model_copy(update={"client_id": "riskstream-demo-gateway"})
        gateway = Gateway.from_settings(self.settings.model_copy(update={"mqtt": mqtt}), self.registry)
        worker = build_worker(self.settings, self.registry)
        gateway.start()
        if not gateway.wait_subscribed(30):
            gateway.stop()
            print("error: the gateway could not subscribe to MQTT within 30 s", file=sys.stderr)
            return 1
        worker_thread = threading.Thread(target=worker.run, name="worker", daemon=True)
        worker_thread.start()
        publisher = threading.Thread(target=self._publish, name="simulator", daemon=True)
        summary = LiveSummary(title=f"riskstream demo — {len(self.registry)} sensors")
        started = time.monotonic()
        publisher.start()
        deadline = started + self.args.duration
        try:
            while time.monotonic() < deadline and worker_thread.is_alive():
                time.sleep(1.0)
                summary.update(self._counts(gateway, worker), remaining_s=deadline - time.monotonic())
        except KeyboardInterrupt:
            print("\ninterrupted, stopping…", flush=True)
        self._stop.set()
        publisher.join(30)
        # let the pipeline catch up with what was published, then stop front to back
        drain_until = time.monotonic() + 30
        while time.monotonic() < drain_until and worker.stats.readings < gateway.stats.readings_produced:
            time.sleep(0.2)
        gateway.stop()
        drain_until = time.monotonic() + 10
        while time.monotonic() < drain_until and worker.stats.readings < gateway.stats.readings_produced:
            time.sleep(0.2)
        worker.stop()
        worker_thread.join(30)
        elapsed = time.monotonic() - started
        final = self._counts(gateway, worker)
        summary.update(final)
        self._print_final(final, elapsed, worker)
        return 0

    def _counts(self, gateway: Any, worker: Any) -> PipelineCounts:
        g, w = gateway.stats, worker.stats
        return PipelineCounts(
            published=self.published,
            produced=g.readings_produced,
            dead_letters=g.dead_letters_total + w.rejected,
            processed=w.readings,
            points=w.points_written,
            alerts_by_level=dict(w.alerts_by_level),
            last_alerts=list(w.last_alerts),
        )

    def _print_final(self, c: PipelineCounts, elapsed_s: float, worker: Any) -> None:
        print()
        print(f"==> demo finished after {elapsed_s:.1f} s")
        print(f"    readings published {c.published}, in Kafka {c.produced}, processed {c.processed}")
        print(f"    throughput: {c.processed / elapsed_s:,.0f} readings/s processed end to end (average)")
        print(f"    InfluxDB points written {c.points}, dead letters {c.dead_letters}")
        levels = ", ".join(f"{k} {v}" for k, v in c.alerts_by_level.items())
        print(f"    alert transitions by level: {levels or 'none'}")
        for a in list(c.last_alerts)[-5:]:
            print(f"      {format_alert(a)}")
        print(
            f"    InfluxDB: {self.settings.influx.url} database {self.settings.influx.database} "
            "(measurements reading, alert, sensor); alerts on Kafka topic "
            f"{self.settings.kafka.topics.alerts}"
        )
