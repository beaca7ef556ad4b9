"""Labelled scenario runs and their scoring: per-rule precision and recall of the detection engine.

A family's scenario suite (``simulators/suites/<family>.py``) builds :class:`LabelledRun` objects: a
registry, every reading as columns in the engine's layout, and the incidents that were injected.
:func:`evaluate` runs them offline through exactly the engine the worker uses and scores the alerts:

* an incident is **detected** when its (sensor, rule) raises to at least the expected level with the
  first such transition inside ``[start_ts_ms, end_ts_ms + grace_ms]``; its level is **exact** when
  the highest level reached in that window equals the expected one;
* every raise from ``normal`` on a (sensor, rule) outside all its incident windows is a **false
  alarm**; a clean run (no incidents) must have none.

:func:`evaluate_runs` keeps the alerts next to the scores, for checks that read the alerts themselves
(e.g. the reasons of the red alerts); :func:`with_params` re-runs the same readings with some sensors'
settings changed, to show that a hard negative really alarms without the setting that handles it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.engine import Engine
from riskstream.registry import Registry
from riskstream.schemas import Alert, Channel, Level


@dataclass(frozen=True, slots=True)
class Expected:
    sensor_id: str
    rule: str
    level: str  # normal < blue < yellow < orange < red
    start_ts_ms: int
    end_ts_ms: int
    description: str = ""


@dataclass(slots=True)
class LabelledRun:
    name: str
    registry: Registry
    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]  # (n, 4): column 0 for single-channel kinds, channels in KINDS order
    expected: list[Expected] = field(default_factory=list)
    grace_ms: int = 900_000  # trailing windows and persistence may fire after the disturbance ends


@dataclass(slots=True)
class RuleScore:
    incidents: int = 0
    detected: int = 0
    exact_level: int = 0
    false_alarms: int = 0

    @property
    def recall(self) -> float:
        return self.detected / self.incidents if self.incidents else float("nan")

    @property
    def precision(self) -> float:
        raised = self.detected + self.false_alarms
        return self.detected / raised if raised else float("nan")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Runs scored together: ``alerts[i]`` are all the alerts the engine raised on ``runs[i]`` (every
    channel), ``scores`` the per-rule scores of those alerts, as :func:`evaluate` computes them."""

    runs: tuple[LabelledRun, ...]
    alerts: tuple[list[Alert], ...]
    scores: dict[str, RuleScore]


def run_engine(run: LabelledRun, batch_size: int = 10_000) -> list[Alert]:
    """All alerts of ``run``, fed in event-time order in batches like the worker sees them."""
    engine = Engine(run.registry)
    state = engine.init_state()
    order = np.argsort(run.ts_ms, kind="stable")
    alerts: list[Alert] = []
    for start in range(0, order.size, batch_size):
        idx = order[start : start + batch_size]
        out, state = engine.process(state, run.rows[idx], run.ts_ms[idx], run.values[idx])
        alerts.extend(out)
    return alerts


def evaluate(runs: Iterable[LabelledRun], batch_size: int = 10_000) -> dict[str, RuleScore]:
    """Per-rule scores over all runs (hazard channel only)."""
    scores: dict[str, RuleScore] = defaultdict(RuleScore)
    for run in runs:
        score_run(run, run_engine(run, batch_size), scores)
    return dict(scores)


def evaluate_runs(runs: Iterable[LabelledRun], batch_size: int = 10_000) -> Evaluation:
    """:func:`evaluate`, keeping each run's alerts: the engine is the expensive part, so tests that
    check both the scores and the alerts themselves run it once."""
    kept = tuple(runs)
    alerts = tuple(run_engine(run, batch_size) for run in kept)
    scores: dict[str, RuleScore] = defaultdict(RuleScore)
    for run, raised in zip(kept, alerts, strict=True):
        score_run(run, raised, scores)
    return Evaluation(kept, alerts, dict(scores))


def with_params(run: LabelledRun, changes: dict[str, dict[str, Any]]) -> LabelledRun:
    """The same readings with some sensors' params changed (``changes[sensor_id]`` is merged over that
    sensor's params), and no labels: the labels were set for the original settings, so the run is only
    good for showing what the engine raises once, say, a persistence is taken away. A sensor id that
    is not in the registry is a ``KeyError`` (a typo would otherwise change nothing, silently)."""
    unknown = sorted(set(changes) - set(run.registry.index))
    if unknown:
        raise KeyError(f"not in the registry of {run.name!r}: {unknown}")
    sensors = [
        replace(s, params={**s.params, **changes[s.sensor_id]}) if s.sensor_id in changes else s
        for s in run.registry
    ]
    return LabelledRun(run.name, Registry(sensors), run.rows, run.ts_ms, run.values, [], run.grace_ms)


def score_run(run: LabelledRun, alerts: Sequence[Alert], scores: dict[str, RuleScore]) -> None:
    by_key: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for a in alerts:
        if a.channel == Channel.HAZARD:
            by_key[(a.sensor_id, a.rule)].append(a)
    windows: dict[tuple[str, str], list[Expected]] = defaultdict(list)
    for e in run.expected:
        windows[(e.sensor_id, e.rule)].append(e)
        s = scores[e.rule]
        s.incidents += 1
        want = int(Level.parse(e.level))
        inside = [
            a
            for a in by_key.get((e.sensor_id, e.rule), [])
            if e.start_ts_ms <= a.ts_ms <= e.end_ts_ms + run.grace_ms
        ]
        reached = max((a.level_num for a in inside), default=0)
        if reached >= want:
            s.detected += 1
        if reached == want:
            s.exact_level += 1
    for (sensor_id, rule), items in by_key.items():
        for a in items:
            if a.previous_level != "normal" or a.level == "normal":
                continue
            ok = any(
                e.start_ts_ms <= a.ts_ms <= e.end_ts_ms + run.grace_ms
                for e in windows.get((sensor_id, rule), [])
            )
            if not ok:
                scores[rule].false_alarms += 1


def table(scores: dict[str, RuleScore]) -> str:
    """Markdown table for benchmarks/RESULTS.md."""
    lines = [
        "| rule | incidents | detected | exact level | false alarms | recall | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in sorted(scores):
        s = scores[rule]
        lines.append(
            f"| {rule} | {s.incidents} | {s.detected} | {s.exact_level} | {s.false_alarms} | "
            f"{s.recall:.3f} | {s.precision:.3f} |"
        )
    return "\n".join(lines)
