"""Sharing one local stack between test sessions, and knowing who may stop it.

Services started by a test session are recorded as *test-owned*; every running session holds a lease
(a pid file of the session's process). When a session ends it drops its lease, and only the last live
session stops the test-owned services. Services an operator started (``riskstream stack up``, which
calls :meth:`SessionLeases.disown`) are never test-owned, so tests never stop them.

Call every method while holding :meth:`StackManager.lock`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from . import processes


class SessionLeases:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.sessions_dir = run_dir / "sessions"
        self.owned_file = run_dir / "test-owned.json"

    def test_owned(self) -> list[str]:
        try:
            return sorted(set(json.loads(self.owned_file.read_text())))
        except (OSError, ValueError, TypeError):
            return []

    def _write_owned(self, names: Iterable[str]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.owned_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(set(names))) + "\n")
        tmp.replace(self.owned_file)

    def live_sessions(self) -> list[int]:
        """Pids of sessions still running; leases of dead sessions are removed."""
        live = []
        for lease in sorted(self.sessions_dir.glob("*.pid")):
            record = processes.read_pid_file(lease)
            if processes.is_running(record) and record is not None:
                live.append(record.pid)
            else:
                lease.unlink(missing_ok=True)
        return live

    def join(self, started: Iterable[str], pid: int | None = None) -> None:
        """Register this session; ``started`` are the services it just started (now test-owned)."""
        pid = os.getpid() if pid is None else pid
        processes.write_pid_file(self.sessions_dir / f"{pid}.pid", pid, "session")
        started = list(started)
        if started:
            self._write_owned([*self.test_owned(), *started])

    def leave(self, pid: int | None = None) -> list[str]:
        """Drop this session's lease; returns the test-owned services to stop now (empty while other
        sessions still run), and forgets them."""
        pid = os.getpid() if pid is None else pid
        (self.sessions_dir / f"{pid}.pid").unlink(missing_ok=True)
        if self.live_sessions():
            return []
        owned = self.test_owned()
        self.owned_file.unlink(missing_ok=True)
        return owned

    def disown(self) -> None:
        """Hand every running service to the operator: no test session will stop it."""
        self.owned_file.unlink(missing_ok=True)
