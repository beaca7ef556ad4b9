"""Shared by the pipeline, ingest and engine benchmarks: machine line, rate formatting, tables, and
replacing one ``## …`` section of benchmarks/RESULTS.md while leaving every other section as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "RESULTS.md"
_NEXT_HEADING = re.compile(r"\n#{1,6} ")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(**extra: str) -> dict[str, str]:
    """Date, nproc, CPU model, Python and numpy versions, load average (the machine is shared)."""
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    info.update(extra)
    info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def machine_line(info: dict[str, str]) -> str:
    return "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + "."


def fmt_rate(r: float) -> str:
    """``1.23 M/s``, ``456 k/s``, ``4,512 /s``."""
    if r != r:  # NaN
        return "-"
    if r >= 1e6:
        return f"{r / 1e6:.2f} M/s"
    if r >= 1e5:
        return f"{r / 1e3:.0f} k/s"
    return f"{r:,.0f} /s"


def fmt_ratio(r: float) -> str:
    if r != r:
        return "-"
    return f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def command_line() -> str:
    """How this process was started, as a shell command (for the RESULTS.md record)."""
    argv = list(sys.argv)
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return " ".join(["python -m", spec.name, *argv[1:]])
    return " ".join(["python", *argv])


def write_section(section: str, text: str, path: Path = RESULTS) -> None:
    """Replace the ``section`` heading's block with ``text``, or append it.

    The block ends at the next Markdown heading of any level, so a subsection someone else appended
    after ours is kept (our sections have no subsections).
    """
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = _NEXT_HEADING.search(old, start + len(section))
        new = old[:start] + text + ("" if nxt is None else "\n" + old[nxt.start() + 1 :])
    path.write_text(new, encoding="utf-8")
