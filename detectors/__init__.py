"""riskstream detectors: pure numpy/scipy, no I/O (design.md §4-§5).

* :mod:`detectors.base` - the detector contract (Batch, Detector, LevelPolicy, sequential_steps);
* :mod:`detectors.domain` - standard-grounded domain rules, one module per family;
* :mod:`detectors.alarm` - alarm state per (sensor, rule), emitting only level transitions;
* :mod:`detectors.engine` - the detection Engine the Kafka worker and the offline replay both call.

``Engine`` and ``EngineState`` are importable from here; they load on first use so that importing
``detectors.base`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Engine", "EngineState"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from detectors import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'detectors' has no attribute {name!r}")
