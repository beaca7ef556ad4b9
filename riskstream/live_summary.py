"""The demo's live terminal summary: rates, alerts by colour, the latest alerts.

On a terminal it redraws one screen in place; piped to a file or CI log it prints one compact line
per refresh instead, so the output stays readable there too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from riskstream.schemas import Alert, Level

_COLOURS = {"normal": "32", "blue": "34", "yellow": "33", "orange": "38;5;208", "red": "31"}


@dataclass
class PipelineCounts:
    """Cumulative counters of the three stages at one moment."""

    published: int = 0  # readings the simulator published over MQTT
    produced: int = 0  # readings the gateway produced to Kafka
    dead_letters: int = 0  # payloads or readings sent to the dead-letter topic
    processed: int = 0  # readings the worker processed and committed
    points: int = 0  # InfluxDB points written
    alerts_by_level: dict[str, int] = field(default_factory=dict)
    last_alerts: Sequence[Alert] = ()
    event_lag_s: float = 0.0


class LiveSummary:
    def __init__(
        self, out: TextIO = sys.stdout, tty: bool | None = None, title: str = "riskstream demo"
    ) -> None:
        self._out = out
        self._tty = out.isatty() if tty is None else tty
        self._title = title
        self._start = time.monotonic()
        self._prev: tuple[float, PipelineCounts] | None = None

    def _rate(self, now: float, c: PipelineCounts, attr: str) -> float:
        if self._prev is None:
            return 0.0
        t0, p = self._prev
        dt = now - t0
        return (getattr(c, attr) - getattr(p, attr)) / dt if dt > 0 else 0.0

    def _colour(self, level: str, text: str) -> str:
        return f"\x1b[{_COLOURS.get(level, '0')}m{text}\x1b[0m" if self._tty else text

    def update(self, c: PipelineCounts, remaining_s: float | None = None) -> None:
        now = time.monotonic()
        rates = {a: self._rate(now, c, a) for a in ("published", "produced", "processed")}
        self._prev = (now, c)
        elapsed = now - self._start
        alerts = "  ".join(
            self._colour(lv.label, f"{lv.label} {c.alerts_by_level.get(lv.label, 0)}") for lv in Level
        )
        if not self._tty:
            print(
                f"[{elapsed:6.1f}s] published {c.published} ({rates['published']:.0f}/s) "
                f"kafka {c.produced} processed {c.processed} ({rates['processed']:.0f}/s) "
                f"points {c.points} dead-letters {c.dead_letters} alerts: {alerts}",
                file=self._out,
                flush=True,
            )
            return
        left = f"   {remaining_s:5.0f} s left" if remaining_s is not None else "   Ctrl-C to stop"
        lines = [
            f"\x1b[1m{self._title}\x1b[0m   running {elapsed:5.0f} s{left}",
            "",
            f"  readings/s   simulator→MQTT {rates['published']:9.0f}"
            f"   gateway→Kafka {rates['produced']:9.0f}   detected+stored {rates['processed']:9.0f}",
            f"  totals       published {c.published:10d}   in Kafka {c.produced:10d}"
            f"   processed {c.processed:10d}",
            f"               InfluxDB points {c.points:10d}   dead letters {c.dead_letters:6d}"
            f"   event-time lag {c.event_lag_s:6.1f} s",
            "",
            f"  alerts       {alerts}",
            "",
            "  latest alerts:",
        ]
        for a in list(c.last_alerts)[-8:][::-1]:
            lines.append("   " + self._colour(a.level, format_alert(a)))
        self._out.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        self._out.flush()


def format_alert(a: Alert, width: int = 150) -> str:
    """One line per alert: time, level change, sensor, rule, reason."""
    when = time.strftime("%H:%M:%S", time.gmtime(a.ts_ms / 1000))
    text = f"{when} {a.previous_level:>6}→{a.level:<6} {a.sensor_id:<14} {a.rule:<24} {a.reason}"
    return text if len(text) <= width else text[: width - 1] + "…"
