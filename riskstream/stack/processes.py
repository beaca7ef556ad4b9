"""Detached service processes: start, identify by pid file, stop; and port checks.

A pid file records the pid and the kernel's start time of the process, so a recycled pid is never
mistaken for ours, and ``down`` only ever signals processes this stack started.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

_LOG_ROTATE_BYTES = 20 * 1024 * 1024
START_MARKER = "--- riskstream stack:"  # written to a service's log before each start

# Popen objects of the services this process started, so they can be reaped (no zombies, no
# "subprocess still running" warnings) when this same process stops them, e.g. in a test session.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds."""

    pid: int
    start_ticks: int | None  # field 22 of /proc/<pid>/stat
    argv0: str
    started_ms: int


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start ticks) of a live process from /proc, or None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return fields[0], int(fields[19])


def write_pid_file(path: Path, proc_pid: int, argv0: str) -> PidRecord:
    stat = _proc_stat(proc_pid)
    record = PidRecord(proc_pid, stat[1] if stat else None, argv0, int(time.time() * 1000))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)) + "\n")
    tmp.replace(path)
    return record


def read_pid_file(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text())
        ticks = data.get("start_ticks")
        return PidRecord(int(data["pid"]), ticks, str(data["argv0"]), int(data["started_ms"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        child.poll()  # reaps it if it exited; the exit code stays readable through exit_code()
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(record: PidRecord | None) -> bool:
    """True if the recorded process is alive (not a zombie) and is the same process that was recorded."""
    if record is None:
        return False
    _reap(record.pid)
    stat = _proc_stat(record.pid)
    if stat is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc: fall back to a signal-0 probe
            os.kill(record.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    state, start_ticks = stat
    if state in ("Z", "X"):
        return False
    return record.start_ticks is None or record.start_ticks == start_ticks


def exit_code(pid: int) -> int | None:
    """Exit code of a child this process started, once it has exited; None otherwise."""
    child = _CHILDREN.get(pid)
    return None if child is None else child.poll()


def _rotate(log_file: Path) -> None:
    with contextlib.suppress(OSError):
        if log_file.stat().st_size > _LOG_ROTATE_BYTES:
            log_file.replace(log_file.with_suffix(log_file.suffix + ".1"))


def start_detached(
    argv: Sequence[str], *, log_file: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (it outlives the caller), output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    _rotate(log_file)
    with log_file.open("ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        log.write(f"{START_MARKER} {stamp} starting {Path(argv[0]).name}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the process group when the process leads one (it does: start_new_session), else the pid."""
    with contextlib.suppress(ProcessLookupError):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
                return
        except ProcessLookupError:
            return
        os.kill(pid, sig)


def stop(record: PidRecord, timeout_s: float) -> str:
    """SIGTERM, then SIGKILL after ``timeout_s``; returns ``"stopped"``, ``"killed"`` or ``"not running"``."""
    if not is_running(record):
        return "not running"
    _signal(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_running(record):
            _CHILDREN.pop(record.pid, None)
            return "stopped"
        time.sleep(0.05)
    _signal(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while is_running(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    _CHILDREN.pop(record.pid, None)
    return "killed"


def reload(record: PidRecord) -> None:
    """Send SIGHUP (Mosquitto re-reads its password and ACL files on it)."""
    if is_running(record):
        os.kill(record.pid, signal.SIGHUP)


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on ``host:port`` (a test bind fails with EADDRINUSE)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_accepts(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True if a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    """Last ``lines`` lines of a log file written since the latest start (or a note if there is none)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    all_lines = text.splitlines()
    starts = [i for i, line in enumerate(all_lines) if line.startswith(START_MARKER)]
    if starts:
        all_lines = all_lines[starts[-1] :]
    return "\n".join(all_lines[-lines:])
