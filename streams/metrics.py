"""Prometheus adapter for the detector worker's hooks, and the exporter that serves it.

The worker calls :class:`streams.worker.WorkerHooks` (``on_batch``, ``on_commit``) and never imports a
metrics library (design.md §7: faust's sensors). :class:`PrometheusWorkerMetrics` registers its
collectors on a ``CollectorRegistry`` the caller passes in, never on the global one at import time,
so tests and several workers in one process each get their own. No per-sensor labels: per-sensor
series belong in InfluxDB.

Event-time lag is ``now - newest processed ts_ms`` (design.md §6: offset lag is meaningless on the
local Kafka-protocol broker, whose end offsets are wrong). The gauge is computed when Prometheus
scrapes, not when the worker commits, so a worker that has stopped processing shows a lag that keeps
growing instead of a frozen, reassuring value.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from riskstream.schemas import FaultLevel, Level

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from riskstream.schemas import Alert

log = logging.getLogger(__name__)

# Batches hold up to ``[detect] max_batch`` (10,000) readings: from about a millisecond to seconds.
BATCH_SECONDS_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

# Every level an alert can carry on either channel, created up front so rate() sees them from zero.
ALERT_LEVELS: tuple[str, ...] = tuple(
    dict.fromkeys([lv.label for lv in Level] + [lv.label for lv in FaultLevel])
)


class PrometheusWorkerMetrics:
    """Implements ``WorkerHooks`` with Prometheus collectors registered on an injected registry.

    Metrics (``namespace`` defaults to ``riskstream``):

    - ``riskstream_worker_readings_total``: readings decoded and processed;
    - ``riskstream_worker_alerts_total{level}``: alert records emitted (transitions and lifecycle events);
    - ``riskstream_worker_rejected_total``: records the worker dead-lettered (unreadable);
    - ``riskstream_worker_batches_total``: batches processed;
    - ``riskstream_worker_batch_seconds``: histogram of one batch's wall time (decode to sinks flushed);
    - ``riskstream_worker_event_time_lag_seconds``: now - newest processed reading time (NaN before the
      first reading);
    - ``riskstream_worker_newest_event_timestamp_seconds``: that newest reading time, epoch seconds.

    ``clock_s`` returns wall-clock epoch seconds (injectable for tests).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        namespace: str = "riskstream",
        *,
        clock_s: Callable[[], float] = time.time,
        levels: Sequence[str] = ALERT_LEVELS,
    ) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def name(n: str) -> str:
            return f"{namespace}_worker_{n}"

        self._clock_s = clock_s
        self._newest_event_s = math.nan
        self._seen_readings = False

        self.readings = Counter(
            name("readings"), "readings processed by the detector worker", registry=registry
        )
        self.alerts = Counter(
            name("alerts"),
            "alert records emitted (transitions and lifecycle events)",
            ["level"],
            registry=registry,
        )
        for level in levels:
            self.alerts.labels(level=level)
        self.rejected = Counter(
            name("rejected"), "Kafka records the worker could not read (dead-lettered)", registry=registry
        )
        self.batches = Counter(name("batches"), "batches processed by the detector worker", registry=registry)
        self.batch_seconds = Histogram(
            name("batch_seconds"),
            "wall time of one batch: decode, detect, write InfluxDB and alerts, flush",
            buckets=BATCH_SECONDS_BUCKETS,
            registry=registry,
        )
        self.event_time_lag = Gauge(
            name("event_time_lag_seconds"),
            "now minus the newest processed reading time (event-time lag)",
            registry=registry,
        )
        self.event_time_lag.set_function(self.event_time_lag_s)
        self.newest_event = Gauge(
            name("newest_event_timestamp_seconds"),
            "reading time of the newest processed reading, epoch seconds",
            registry=registry,
        )
        self.newest_event.set_function(lambda: self._newest_event_s)

    # --- WorkerHooks -------------------------------------------------------------------------------

    def on_batch(self, readings: int, alerts: list[Alert], rejected: int, duration_s: float) -> None:
        self.batches.inc()
        self.batch_seconds.observe(duration_s)
        if readings:
            self.readings.inc(readings)
            self._seen_readings = True
        if rejected:
            self.rejected.inc(rejected)
        for alert in alerts:
            self.alerts.labels(level=alert.level).inc()

    def on_commit(self, event_time_lag_s: float) -> None:
        # The worker reports 0 before it has seen any reading; that is "unknown", not "no lag".
        if self._seen_readings and math.isfinite(event_time_lag_s):
            self._newest_event_s = self._clock_s() - event_time_lag_s

    # --- read side ---------------------------------------------------------------------------------

    def event_time_lag_s(self) -> float:
        """Seconds between now and the newest processed reading; NaN before the first reading."""
        return self._clock_s() - self._newest_event_s


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> bool:
    """Serve ``registry`` on ``http://host:port/metrics`` from a daemon thread.

    Returns False (and logs a warning) when the port cannot be bound, e.g. because another riskstream
    service on this machine already exports on it: metrics are not worth stopping the pipeline for.
    """
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("metrics exporter not started on %s:%d: %s", host, port, exc)
        return False
    log.info("metrics exporter on http://%s:%d/metrics", host, port)
    return True
