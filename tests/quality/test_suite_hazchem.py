"""Hazchem scenario suite (simulators/suites/hazchem.py): what only this family has - incidents at every
farm (the major-hazard-source weighting) and clean runs with real hard negatives. The checks every suite
shares (levels per rule, recall and precision ≥ 0.95 per rule, silent clean runs, determinism) are in
tests/quality/test_suites.py."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from simulators.suites import hazchem as suite
from simulators.suites.harness import Evaluation


def test_incidents_hit_every_farm(incident_evaluation: Callable[[ModuleType], Evaluation]) -> None:
    """The weighting is exercised at both weighted farms (A: level 1, B: level 2) and at the unweighted C."""
    weighted = {e.sensor_id[:3] for r in incident_evaluation(suite).runs for e in r.expected}
    assert {"hza", "hzb", "hzc"} <= weighted


def test_clean_runs_hold_real_hard_negatives() -> None:
    """Tanks filled to within 3 % of H, gas puffs to over half the pre-alarm, heating at 0.15 °C/min."""
    run = suite.clean_run(11)
    kinds = np.array([run.registry.sensors[r].kind for r in run.rows])
    v = run.values[:, 0]
    assert v[kinds == "tank_level"].max() > 81.5
    assert v[kinds == "tank_level"].min() < 15.0
    assert v[kinds == "combustible_gas"].max() > 7.0
