"""``StackManager``: bring the local stack up, down, or report its status.

Idempotent by design: ``up`` finds services already running from this data folder (live pid file and
a healthy probe) and only provisions them; ``down`` signals only the processes recorded in pid files.
Commands from several processes (two shells, parallel test sessions) serialise on a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from riskstream.settings import RiskstreamSettings

from . import install, processes
from .errors import StackError
from .layout import StackLayout
from .services import ServiceDef, service_defs

Progress = Callable[[str], None]

# Held lock files of this process, with their nesting depth (the lock is re-entrant per process).
_HELD_LOCKS: dict[Path, tuple[int, int]] = {}


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class ServiceStatus:
    """State of one service. ``up``: it answers on its protocol. ``managed``: a live process recorded
    in this data folder's pid file. ``started``: started by the ``up`` call that returned this."""

    name: str
    url: str
    up: bool
    pid: int | None
    managed: bool
    started: bool = False
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"url": self.url, "up": self.up, "pid": self.pid, "managed": self.managed}
        if self.detail:
            out["detail"] = self.detail
        return out


class StackManager:
    """Drive the local stack described by ``settings`` (ports, credentials, ``stack.data_dir``)."""

    def __init__(
        self,
        settings: RiskstreamSettings,
        *,
        progress: Progress | None = None,
        start_timeout_s: float = 60.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.layout = StackLayout.from_settings(settings)
        self.progress: Progress = progress or _quiet
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s

    # -- locking -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive, process-re-entrant lock on the data folder (``flock`` on ``stack.lock``)."""
        path = self.layout.lock_file
        held = _HELD_LOCKS.get(path)
        if held is not None:
            _HELD_LOCKS[path] = (held[0], held[1] + 1)
            try:
                yield
            finally:
                fd, depth = _HELD_LOCKS[path]
                _HELD_LOCKS[path] = (fd, depth - 1)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.progress(f"waiting for another riskstream stack command on {self.layout.data_dir}")
                fcntl.flock(fd, fcntl.LOCK_EX)
            _HELD_LOCKS[path] = (fd, 1)
            try:
                yield
            finally:
                _HELD_LOCKS.pop(path, None)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- up ------------------------------------------------------------------------------------

    def up(self, *, with_extras: bool = False, adopt_foreign: bool = False) -> list[ServiceStatus]:
        """Install what is missing, start what is not running, wait until healthy, provision.

        ``adopt_foreign``: a service not started from this data folder but already answering on its
        port with the configured credentials (a stack started from another folder) is provisioned and
        used as is instead of being an error. Raises :class:`StackError` naming the service (with the
        tail of its log) on the first failure; services already up stay up.
        """
        defs = service_defs(with_extras=with_extras)
        with self.lock():
            adopted = self._check_ports(defs, adopt_foreign)
            binaries = self._ensure_binaries([d for d in defs if d.name not in adopted])
            return [self._adopt(d) if d.name in adopted else self._up_one(d, binaries) for d in defs]

    def _adopt(self, d: ServiceDef) -> ServiceStatus:
        url = d.url(self.layout)
        self.progress(f"{d.name}: answering at {url} but not started from this folder; using it as is")
        d.provision(self.layout, self.settings, self.progress)
        return ServiceStatus(d.name, url, True, None, False, detail="not started from this data folder")

    def _check_ports(self, defs: Sequence[ServiceDef], adopt_foreign: bool = False) -> set[str]:
        """Before starting anything: every port of a service not running from here must be free.

        Returns the services to adopt (only with ``adopt_foreign``)."""
        layout = self.layout
        conflicts: list[str] = []
        adopted: set[str] = set()
        for d in defs:
            if processes.is_running(processes.read_pid_file(layout.pid_file(d.name))):
                continue
            if adopt_foreign and d.probe(layout, self.settings) is None:
                adopted.add(d.name)
                continue
            for port in (d.port(layout), *d.other_ports(layout)):
                try:
                    taken = processes.port_in_use(layout.bind_host, port)
                except OSError as exc:
                    raise StackError(
                        f"{d.name}: cannot bind {layout.bind_host}:{port}: {exc.strerror}"
                    ) from exc
                if taken:
                    conflicts.append(f"{d.name} port {port}")
        if conflicts:
            raise StackError(
                f"already in use on {layout.bind_host} by processes this stack did not start (no live pid "
                f"file in {layout.run_dir}): {', '.join(conflicts)}. Stop them or configure other ports."
            )
        return adopted

    def _ensure_binaries(self, defs: Sequence[ServiceDef]) -> dict[str, Path]:
        allow = self.settings.stack.install_missing
        tools = [t for d in defs for t in d.debian_tools]
        binaries = install.ensure_debian_tools(tools, progress=self.progress, allow_install=allow)
        if any(d.name == "kafka" for d in defs):
            binaries["tansu"] = install.ensure_tansu(
                progress=self.progress,
                allow_install=allow,
                fallback_dir=self.layout.service_dir("kafka") / "bin",
            )
        return binaries

    def _up_one(self, d: ServiceDef, binaries: dict[str, Path]) -> ServiceStatus:
        layout, settings = self.layout, self.settings
        pid_file = layout.pid_file(d.name)
        record = processes.read_pid_file(pid_file)
        url = d.url(layout)
        if processes.is_running(record):
            assert record is not None
            reason = d.probe(layout, settings)
            if reason is not None and d.repair(layout, settings, binaries, record.pid):
                self.progress(f"{d.name}: running (pid {record.pid}) but {reason}; reloaded its config")
            if reason is not None:
                reason = self._wait_healthy(d, record, time.monotonic() + self.start_timeout_s)
            if reason is not None:
                raise StackError(
                    f"{d.name}: running from this folder (pid {record.pid}) but unhealthy: {reason}. "
                    f"Try `riskstream stack down` then `up`. Last lines of {layout.log_file(d.name)}:\n"
                    f"{processes.log_tail(layout.log_file(d.name))}"
                )
            self.progress(f"{d.name}: already running at {url} (pid {record.pid})")
            d.provision(layout, settings, self.progress)
            return ServiceStatus(d.name, url, True, record.pid, True)

        pid_file.unlink(missing_ok=True)
        argv = d.prepare(layout, settings, binaries)
        self.progress(f"{d.name}: starting {Path(argv[0]).name} on {layout.bind_host}:{d.port(layout)}")
        t0 = time.monotonic()
        proc = processes.start_detached(
            argv, log_file=layout.log_file(d.name), cwd=layout.data_dir, env=d.env()
        )
        record = processes.write_pid_file(pid_file, proc.pid, argv[0])
        reason = self._wait_healthy(d, record, t0 + self.start_timeout_s)
        if reason is not None:
            code = processes.exit_code(record.pid)
            processes.stop(record, self.stop_timeout_s)
            pid_file.unlink(missing_ok=True)
            exited = f" (it exited with code {code})" if code is not None else ""
            raise StackError(
                f"{d.name} did not become healthy within {self.start_timeout_s:.0f} s{exited}: {reason}. "
                f"Last lines of {layout.log_file(d.name)}:\n{processes.log_tail(layout.log_file(d.name))}"
            )
        self.progress(f"{d.name}: up at {url} (pid {record.pid}, {time.monotonic() - t0:.1f} s)")
        d.provision(layout, settings, self.progress)
        return ServiceStatus(d.name, url, True, record.pid, True, started=True)

    def _wait_healthy(self, d: ServiceDef, record: processes.PidRecord, deadline: float) -> str | None:
        reason: str | None = "not checked"
        while True:
            if not processes.is_running(record):
                return "the process exited"
            reason = d.probe(self.layout, self.settings)
            if reason is None or time.monotonic() >= deadline:
                return reason
            time.sleep(0.2)

    # -- down ----------------------------------------------------------------------------------

    def down(self, names: Sequence[str] | None = None) -> list[str]:
        """Stop the services (all by default) that this data folder's pid files record; returns their names.

        SIGTERM first, SIGKILL after ``stop_timeout_s``. Processes not started by the stack are untouched.
        """
        defs = service_defs(names, with_extras=True)
        if not self.layout.run_dir.is_dir():
            return []
        stopped: list[str] = []
        with self.lock():
            for d in reversed(defs):
                pid_file = self.layout.pid_file(d.name)
                record = processes.read_pid_file(pid_file)
                if record is None:
                    continue
                outcome = processes.stop(record, self.stop_timeout_s)
                pid_file.unlink(missing_ok=True)
                if outcome != "not running":
                    stopped.append(d.name)
                    self.progress(f"{d.name}: {outcome} (pid {record.pid})")
        return stopped

    def purge(self) -> list[Path]:
        """Stop everything, then delete what the stack created under the data folder (data, logs, configs).

        Only the stack's own sub-folders are removed, never the data folder's other content.
        """
        removed: list[Path] = []
        with self.lock():
            self.down()
            for path in self.layout.owned_paths():
                if path == self.layout.lock_file or not path.exists():
                    continue
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
        return removed

    # -- status --------------------------------------------------------------------------------

    def managed(self) -> set[str]:
        """Names of the services with a live process recorded in this data folder (no probing)."""
        return {
            d.name
            for d in service_defs(with_extras=True)
            if processes.is_running(processes.read_pid_file(self.layout.pid_file(d.name)))
        }

    def status(self, names: Sequence[str] | None = None) -> dict[str, ServiceStatus]:
        """Probe every service (all five by default); never starts or changes anything."""
        out: dict[str, ServiceStatus] = {}
        for d in service_defs(names, with_extras=True):
            record = processes.read_pid_file(self.layout.pid_file(d.name))
            managed = processes.is_running(record)
            reason = d.probe(self.layout, self.settings)
            detail = reason or ""
            if reason is None and not managed:
                detail = "answering, but not started from this data folder"
            out[d.name] = ServiceStatus(
                d.name,
                d.url(self.layout),
                reason is None,
                record.pid if managed and record else None,
                managed,
                detail=detail,
            )
        return out
