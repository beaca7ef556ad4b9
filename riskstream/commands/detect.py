"""``riskstream detect``: run the batch detector worker (Kafka readings -> InfluxDB + Kafka alerts)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

from riskstream.registry import Registry
from riskstream.settings import load_settings

log = logging.getLogger("riskstream.detect")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="run the detector worker: Kafka readings -> InfluxDB and alerts")
    p.add_argument("--config", help="riskstream TOML config (default: built-in defaults + environment)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    p.add_argument(
        "--metrics-host",
        default=None,
        help="address the Prometheus exporter binds (default: setting metrics_host, 127.0.0.1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.factory import build_worker

    settings = load_settings(args.config)
    registry = Registry.load(settings.registry)
    hooks = None
    if settings.metrics_port:
        from prometheus_client import CollectorRegistry

        from streams.metrics import PrometheusWorkerMetrics, serve_metrics

        collectors = CollectorRegistry()
        hooks = PrometheusWorkerMetrics(collectors)
        serve_metrics(
            collectors, settings.metrics_port, host=args.metrics_host or settings.metrics_host
        )  # warns if the port is taken
    worker = build_worker(settings, registry, hooks=hooks)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())
    log.info("detect: %d sensors, consuming %s", len(registry), settings.kafka.topics.readings)
    thread = threading.Thread(target=worker.run, kwargs={"duration_s": args.duration_s}, daemon=True)
    thread.start()
    last = 0
    while thread.is_alive():
        thread.join(5)
        s = worker.stats
        log.info(
            "readings %d (+%d) alerts %s rejected %d commits %d",
            s.readings,
            s.readings - last,
            dict(s.alerts_by_level),
            s.rejected,
            s.commits,
        )
        last = s.readings
        time.sleep(0)
    return 0
