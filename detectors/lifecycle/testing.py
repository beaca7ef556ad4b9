"""Test helpers shipped with the library: drive the alarm lifecycle with levels you choose.

:func:`echo_rule` builds a domain rule whose level *is* its input value (``2.0`` → yellow, anything
below 1 → normal, NaN → the reading is skipped), so a lifecycle test writes the per-reading levels it
wants and checks the alerts. :func:`tiny_registry` makes a registry of a few sensors. Used by the
repository's own tests and meant for users testing their lifecycle settings the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.rule import DomainRule, Measures, TransitionContext, change_reason
from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor


@dataclass(frozen=True, slots=True)
class EchoParams:
    """No per-sensor keys: the level is the value."""


class _Echo(DomainRule[EchoParams]):
    source = "test echo"
    unit = "level"
    sensor_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: EchoParams | None = None) -> None:
        super().__init__(params or EchoParams())

    @classmethod
    def conformance_examples(cls) -> Sequence[DomainRule[Any]]:
        return ()  # a test helper, not a detector: opted out of the conformance suite

    def _init_measure_state(self, capacity: int) -> State:
        return {}

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        x = self.input_values(batch)
        return Measures(score=x.copy(), per_level=np.repeat(x[:, None], 4, axis=1), valid=np.isfinite(x))

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        pts = np.tile(np.arange(1.0, 5.0), (rows.size, 1))
        return LevelThresholds(pts, pts.copy(), np.ones(rows.size))

    def describe(self, ctx: TransitionContext) -> str:
        names = ("blue", "yellow", "orange", "red")
        return change_reason(ctx, self.name, ("echo",) * 4, names, self.unit, self.source)


def echo_rule(
    name: str = "echo", kinds: Sequence[str] = ("tank_level",), channel: str | None = None, **attrs: Any
) -> DomainRule[Any]:
    """A rule named ``name`` on ``kinds`` whose level is the value (of ``channel`` for multi-channel
    kinds). ``attrs`` become class attributes, e.g. ``alarm_defaults=AlarmSettings(...)``."""
    channels = len(KINDS[kinds[0]].channels)
    cls = type(
        f"Echo_{name}",
        (_Echo,),
        {"name": name, "kinds": tuple(kinds), "channel": channel, "channels": channels, **attrs},
    )
    return cls()


def tiny_registry(
    *specs: tuple[str, str] | tuple[str, str, dict[str, Any]], site: str = "site-1"
) -> Registry:
    """Sensors from ``(sensor_id, kind[, params])``; all at ``site``."""
    sensors = []
    for spec in specs:
        sensor_id, kind = spec[0], spec[1]
        params = dict(spec[2]) if len(spec) > 2 else {}  # type: ignore[misc]
        k = KINDS[kind]
        sensors.append(Sensor(sensor_id, k.family, kind, site, "area-1", 29.6, 106.5, "gw-1", k.unit, params))
    return Registry(sensors)
