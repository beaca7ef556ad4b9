"""The scenario suites' incident runs, run through the engine once per test session.

Running a family's incident runs through the engine is the expensive part of the suite tests (about
40 s for the geohazard slopes, 30 s for the gas pipelines), and both the checks every family shares
(tests/quality/test_suites.py) and a family's own checks (tests/quality/test_suite_<family>.py) need
the same runs, alerts and scores. ``incident_evaluation(suite)`` computes them on the first request for
a suite module and hands the same :class:`~simulators.suites.harness.Evaluation` to every later one.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from simulators.suites.harness import Evaluation, evaluate_runs


@pytest.fixture(scope="session")
def incident_evaluation() -> Callable[[ModuleType], Evaluation]:
    """``incident_evaluation(suite)``: ``suite.incident_runs()`` with their alerts and per-rule scores,
    computed once per session per suite module (tests must not mutate what they get)."""
    cache: dict[str, Evaluation] = {}

    def evaluation(suite: ModuleType) -> Evaluation:
        if suite.__name__ not in cache:
            cache[suite.__name__] = evaluate_runs(suite.incident_runs())
        return cache[suite.__name__]

    return evaluation
