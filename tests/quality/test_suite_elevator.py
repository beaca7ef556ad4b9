"""Elevator scenario suite (simulators/suites/elevator.py): what only this family has. The checks every
suite shares (levels per rule, recall and precision ≥ 0.95 per rule, silent clean runs, determinism)
are in tests/quality/test_suites.py."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from simulators.suites import elevator as suite
from simulators.suites.harness import Evaluation


def test_the_red_traps_last_over_an_hour(incident_evaluation: Callable[[ModuleType], Evaluation]) -> None:
    """A trap is red from the 60 min rescue set point on: the suite injects long traps for red, it does
    not just label short ones red."""
    runs = incident_evaluation(suite).runs
    long_traps = [e for r in runs for e in r.expected if e.rule == suite.TRAP and e.level == "red"]
    assert long_traps and all(e.end_ts_ms - e.start_ts_ms > 3_600_000 for e in long_traps)
