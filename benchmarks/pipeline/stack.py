"""The local stack for the pipeline benchmark, shared the way test sessions share it.

Missing core services (Mosquitto, Tansu, InfluxDB) are started with
:class:`riskstream.stack.StackManager`; services already answering on their ports are used as they are.
The run holds a session lease like a pytest session (``riskstream.stack.SessionLeases``): at the end it
stops only the services it started itself, and only when no other session still uses them, unless
``keep`` is set (then they stay up until ``riskstream stack down``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from riskstream.settings import RiskstreamSettings, load_settings
from riskstream.stack import SessionLeases, StackManager
from riskstream.stack.testing import StackInfo

REPO_ROOT = Path(__file__).resolve().parents[2]


def bench_settings() -> RiskstreamSettings:
    """Default settings (plus ``RISKSTREAM_*`` variables) with the data folder anchored at the repo root."""
    settings = load_settings()
    data_dir = settings.stack.data_dir
    if not data_dir.is_absolute():
        data_dir = REPO_ROOT / data_dir
    return settings.model_copy(update={"stack": settings.stack.model_copy(update={"data_dir": data_dir})})


@contextmanager
def local_stack(settings: RiskstreamSettings, *, keep: bool = False) -> Iterator[StackInfo]:
    manager = StackManager(settings, progress=lambda m: print(f"  stack: {m}", flush=True))
    leases = SessionLeases(manager.layout.run_dir)
    with manager.lock():
        before = manager.managed()
        manager.up(with_extras=False, adopt_foreign=True)
        started = manager.managed() - before
        leases.join(started)
    if started:
        print(f"  stack: started {', '.join(sorted(started))}", flush=True)
    try:
        yield StackInfo.from_settings(settings)
    finally:
        with manager.lock():
            to_stop = leases.leave()
            if keep:
                leases.disown()
            elif to_stop:
                print(f"  stack: stopping {', '.join(to_stop)} (started by this run)", flush=True)
                manager.down(to_stop)
