"""The local embedded stack behind ``riskstream stack up|down|status``.

Mosquitto (auth + ACL), Tansu (Kafka protocol) and InfluxDB 1.6, plus VictoriaMetrics and Prometheus
as extras, each started detached on project ports bound to 127.0.0.1, with everything they write under
``settings.stack.data_dir``. See docs/operator/local-stack.md.
"""

from __future__ import annotations

from .errors import StackError
from .layout import ALL_SERVICES, CORE_SERVICES, EXTRA_SERVICES, StackLayout
from .leases import SessionLeases
from .manager import ServiceStatus, StackManager

__all__ = [
    "ALL_SERVICES",
    "CORE_SERVICES",
    "EXTRA_SERVICES",
    "ServiceStatus",
    "SessionLeases",
    "StackError",
    "StackLayout",
    "StackManager",
]
