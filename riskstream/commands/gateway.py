"""``riskstream gateway``: run the MQTT -> Kafka ingest gateway (readings + dead letters)."""

from __future__ import annotations

import argparse
import logging

from riskstream.registry import Registry, RegistryError
from riskstream.settings import load_settings

log = logging.getLogger("riskstream.gateway")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gateway", help="run the ingest gateway: MQTT gateway payloads -> Kafka readings")
    p.add_argument("--config", help="riskstream TOML config (default: built-in defaults + environment)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--stats-every-s", type=float, default=5.0, help="print a stats line this often")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ingest.gateway import Gateway, GatewayStats

    settings = load_settings(args.config)
    try:
        registry = Registry.load(settings.registry)
    except RegistryError as exc:
        print(f"error: {exc}")
        return 1
    metrics = None
    if settings.metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server

        from ingest.metrics import PrometheusGatewayMetrics

        collectors = CollectorRegistry()
        metrics = PrometheusGatewayMetrics(collectors)
        try:
            start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=collectors)
        except OSError as exc:
            log.warning("metrics exporter not started on port %d: %s", settings.metrics_port, exc)
    gateway = Gateway.from_settings(settings, registry, metrics=metrics)
    last = GatewayStats()
    interval = args.stats_every_s

    def print_stats(s: GatewayStats) -> None:
        nonlocal last
        rate = (s.readings_produced - last.readings_produced) / interval if interval else 0.0
        print(f"gateway: {s.summary()} rate={rate:,.0f}/s connected={gateway.connected}", flush=True)
        last = s

    log.info("gateway: %d sensors from %s", len(registry), settings.registry)
    code = gateway.run(args.duration_s, stats_every_s=interval or None, on_stats=print_stats)
    print(f"gateway stopped: {gateway.stats.summary()}", flush=True)
    return code
