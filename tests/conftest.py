"""Shared pytest fixtures: the real local stack for integration tests.

``stack`` (session scope) brings up the local stack with extras (Mosquitto, Tansu, InfluxDB 1.6,
VictoriaMetrics, Prometheus) in the repository's ``.riskstream/`` folder on the configured ports
(defaults from ``riskstream.settings``; ``RISKSTREAM_*`` variables apply) and returns a
:class:`riskstream.stack.testing.StackInfo`. A service already answering on its configured port with
the configured credentials is reused as is, even if it was started from another folder. If any
service cannot start, the test FAILS with the reason and the tail of the service's log; it never skips.

Teardown policy (explicit):
- services that were already running before the session (``riskstream stack up``, or a previous
  session run with ``RISKSTREAM_TEST_KEEP_STACK=1``) are reused and left running;
- services this session started are stopped at session end, unless another test session still uses
  the stack (the last session out stops them), or ``RISKSTREAM_TEST_KEEP_STACK=1`` is set, which hands
  them over to you: they stay up until ``riskstream stack down``.

Tests using ``stack`` are integration tests: mark them ``@pytest.mark.integration`` (tests that use the
fixture without the mark get it added, so ``-m "not integration"`` deselects them all).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riskstream.settings import RiskstreamSettings, load_settings
from riskstream.stack import SessionLeases, StackError, StackManager
from riskstream.stack.testing import StackInfo
from riskstream.stack.testing import unique_name as _unique_name

REPO_ROOT = Path(__file__).resolve().parent.parent
KEEP_STACK_ENV = "RISKSTREAM_TEST_KEEP_STACK"
START_TIMEOUT_S = 90.0


def _test_settings() -> RiskstreamSettings:
    """Default settings (plus RISKSTREAM_* variables) with the data folder anchored at the repo root."""
    settings = load_settings()
    data_dir = settings.stack.data_dir
    if not data_dir.is_absolute():
        data_dir = REPO_ROOT / data_dir
    return settings.model_copy(update={"stack": settings.stack.model_copy(update={"data_dir": data_dir})})


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    """The running local stack (with extras); see the module docstring for the teardown policy."""
    settings = _test_settings()
    progress: list[str] = []
    try:
        manager = StackManager(settings, progress=progress.append, start_timeout_s=START_TIMEOUT_S)
    except StackError as exc:
        pytest.fail(f"local stack: invalid settings: {exc}", pytrace=False)
    leases = SessionLeases(manager.layout.run_dir)
    with manager.lock():
        before = manager.managed()
        try:
            manager.up(with_extras=True, adopt_foreign=True)
        except StackError as exc:
            # Leave nothing half-started behind: stop what this attempt started, then fail loudly.
            manager.down(sorted(manager.managed() - before))
            pytest.fail(
                f"the local stack could not start: {exc}\nprogress:\n" + "\n".join(progress), pytrace=False
            )
        leases.join(manager.managed() - before)
    try:
        yield StackInfo.from_settings(settings).with_running_prometheus_targets()
    finally:
        with manager.lock():
            to_stop = leases.leave()
            if os.environ.get(KEEP_STACK_ENV) == "1":
                leases.disown()
            elif to_stop:
                manager.down(to_stop)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name("t_alerts")`` -> ``"t_alerts_3f9a0c1b2d4e"``: collision-free topic/database names."""
    return _unique_name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
