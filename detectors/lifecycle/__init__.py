"""The alarm lifecycle between the rules' per-reading levels and the alert stream (docs/alarms/).

* :mod:`.settings` - rule settings (debounce, hysteresis, latch, escalation, flapping), deadman and
  multi-rule agreement, with per-sensor overrides from the registry;
* :mod:`.condition` - stage A, vectorised per (sensor, rule): debounce, hysteresis, latch, escalation
  and de-escalation timers;
* :mod:`.deadman` - per sensor: silence longer than the expected interval × factor → ``sensor_fault``;
* :mod:`.notify` - stage B over level changes and operator actions: agreement, flapping, shelve,
  maintenance, acknowledgement, and what reaches the alert stream;
* :mod:`.common` - time sentinels and the ordering convention that makes replay and live agree.

:class:`detectors.engine.Engine` wires them together; everything here is pure numpy (no I/O).
"""

from __future__ import annotations

from detectors.lifecycle.common import FOREVER, NEVER, NO_DUE, Cause, Phase
from detectors.lifecycle.settings import (
    DEADMAN_RULE,
    AgreementSettings,
    AlarmSettings,
    ClearMode,
    DeadmanSettings,
    LifecycleConfig,
    LifecycleConfigError,
)

__all__ = [
    "DEADMAN_RULE",
    "FOREVER",
    "NEVER",
    "NO_DUE",
    "AgreementSettings",
    "AlarmSettings",
    "Cause",
    "ClearMode",
    "DeadmanSettings",
    "LifecycleConfig",
    "LifecycleConfigError",
    "Phase",
]
