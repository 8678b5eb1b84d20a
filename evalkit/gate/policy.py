"""The gate policy: ``[gate]`` in evalkit.toml (or a file of its own) → a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..tomlfile import read_toml

CORRECTIONS = ("holm", "bh", "none")
REQUIRES = ("no-credible-regression", "non-inferiority")
REFERENCE_BEYOND_MARGIN = 0.03  # the drop a report measures power against, without max_mde


@dataclass(frozen=True)
class BenchGate:
    """``[gate.bench.SUITE]``: no task of the suite may credibly drop by more than its
    tolerance (``tasks`` per task, else ``tolerance``, else the suite's own; see
    gate/bench_rules.py)."""

    tolerance: float | None = None
    tasks: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GradeGate:
    """``[gate.grade.GRADER]``: the candidate's mean score by that grader may not credibly
    drop by more than ``tolerance`` score points below the baseline's (paired by prompt; see
    gate/grade_rules.py)."""

    tolerance: float = 0.0


@dataclass(frozen=True)
class GatePolicy:
    """When does a candidate count as a regression against the baseline?

    A rule blocks when the candidate's win rate is *credibly* below ``0.5 - margin``: the
    one-sided test of H0 "win rate ≥ 0.5 − margin" rejects at ``1 - confidence`` after the
    multiple-comparison ``correction`` across all rules (overall + per tag). Too few valid
    judgments, or too many invalid verdicts or failed requests, make the run inconclusive.

    ``require = "non-inferiority"`` passes only a candidate shown *not* worse: every rule's
    one-sided lower bound (at ``confidence``) above ``0.5 - margin``; otherwise inconclusive.
    ``max_mde``: a run whose overall rule cannot detect a true win rate of ``0.5 - max_mde``
    with probability ``power`` does not pass (inconclusive). ``sequential``: judge the pool in
    a seeded random order in ``looks`` batches and stop once the decision is clear
    (``docs/sequential-gate.md``); spending ``alpha * t**spending``.
    """

    baseline: str = "promoted"
    pool: str | None = None
    judge: str | None = None
    confidence: float = 0.95
    correction: str = "holm"
    margin: float = 0.02
    min_valid: int = 200
    max_invalid_rate: float = 0.10
    max_failed_rate: float = 0.10
    tag_min_valid: int = 10
    max_judgments: int | None = None
    require: str = "no-credible-regression"
    power: float = 0.8
    max_mde: float | None = None
    sequential: bool = False
    looks: int = 10
    spending: float = 1.0
    tags: dict[str, dict[str, float]] = field(default_factory=dict)  # tag -> value -> margin
    bench: dict[str, BenchGate] = field(default_factory=dict)  # suite -> benchmark rules
    grade: dict[str, GradeGate] = field(default_factory=dict)  # grader -> score rule

    @property
    def alpha(self) -> float:
        return round(1.0 - self.confidence, 12)

    def tag_margin(self, tag: str, value: str) -> float:
        return self.tags.get(tag, {}).get(value, self.margin)

    def reference(self, margin: float) -> float:
        """The drop below 0.5 a rule with ``margin`` should be able to see: ``max_mde`` for
        the overall rule (else margin + 0.03), the same distance beyond their own margin for
        tag rules."""
        beyond = (self.max_mde - self.margin if self.max_mde is not None
                  else REFERENCE_BEYOND_MARGIN)
        return min(margin + beyond, 0.499)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "baseline": str, "pool": str, "judge": str, "confidence": (int, float),
    "correction": str, "margin": (int, float), "min_valid": int,
    "max_invalid_rate": (int, float), "max_failed_rate": (int, float), "tag_min_valid": int,
    "max_judgments": int, "tags": dict, "require": str, "power": (int, float),
    "max_mde": (int, float), "sequential": bool, "looks": int, "spending": (int, float),
    "bench": dict, "grade": dict,
}


def parse_gate(raw: dict[str, Any], where: str = "evalkit.toml: gate") -> GatePolicy:
    unknown = sorted(set(raw) - set(_TYPES))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: "
                          f"{', '.join(sorted(_TYPES))})")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        kind = _TYPES[key]
        if (isinstance(value, bool) != (kind is bool)) or not isinstance(value, kind):
            raise ConfigError(f"{where}.{key}: expected {_name(kind)}, got "
                              f"{type(value).__name__}")
        values[key] = value
    tags: dict[str, dict[str, float]] = {}
    for tag, table in values.pop("tags", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}.tags.{tag}: expected a table of value = margin")
        for value, margin in table.items():
            if isinstance(margin, bool) or not isinstance(margin, (int, float)):
                raise ConfigError(f"{where}.tags.{tag}.{value}: expected a number (margin)")
            _check_margin(f"{where}.tags.{tag}.{value}", float(margin))
        tags[tag] = {str(v): float(m) for v, m in table.items()}
    bench = {str(suite): _bench(f"{where}.bench.{suite}", table)
             for suite, table in values.pop("bench", {}).items()}
    grade = {str(name): _grade(f"{where}.grade.{name}", table)
             for name, table in values.pop("grade", {}).items()}
    floats = ("confidence", "margin", "max_invalid_rate", "max_failed_rate", "power", "max_mde",
              "spending")
    kwargs: dict[str, Any] = {k: float(v) if k in floats else v for k, v in values.items()}
    policy = GatePolicy(**kwargs, tags=tags, bench=bench, grade=grade)
    if not 0.5 < policy.confidence < 1:
        raise ConfigError(f"{where}.confidence: must be between 0.5 and 1")
    if policy.correction not in CORRECTIONS:
        raise ConfigError(f"{where}.correction: '{policy.correction}' is not one of "
                          f"{', '.join(CORRECTIONS)}")
    _check_margin(f"{where}.margin", policy.margin)
    for key in ("max_invalid_rate", "max_failed_rate"):
        if not 0 <= getattr(policy, key) <= 1:
            raise ConfigError(f"{where}.{key}: must be between 0 and 1")
    if policy.require not in REQUIRES:
        raise ConfigError(f"{where}.require: '{policy.require}' is not one of "
                          f"{', '.join(REQUIRES)}")
    if not 0.5 < policy.power < 1:
        raise ConfigError(f"{where}.power: must be between 0.5 and 1")
    if policy.max_mde is not None and not policy.margin < policy.max_mde < 0.5:
        raise ConfigError(f"{where}.max_mde: must be above the margin ({policy.margin:g}) "
                          "and below 0.5 (a drop of the win rate below 0.5)")
    if not 1 <= policy.looks <= 50:
        raise ConfigError(f"{where}.looks: must be between 1 and 50")
    if not 0.5 <= policy.spending <= 5:
        raise ConfigError(f"{where}.spending: must be between 0.5 and 5")
    if policy.sequential:
        check_sequential(policy, where)
    return policy


def check_sequential(policy: GatePolicy, where: str = "gate") -> None:
    """The sequential gate decides on the overall win rate alone, by blocking or passing."""
    if policy.tags or policy.bench or policy.grade:
        raise ConfigError(f"{where}.sequential: the sequential gate monitors the overall win "
                          "rate only; remove the [gate.tags], [gate.bench] and [gate.grade] "
                          "rules or run the fixed gate")
    if policy.require != "no-credible-regression":
        raise ConfigError(f"{where}.sequential: require = '{policy.require}' has no "
                          "sequential design; use the fixed gate")


def _bench(where: str, table: Any) -> BenchGate:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table (tolerance = …, tasks = {{ NAME = … }})")
    unknown = sorted(set(table) - {"tolerance", "tasks"})
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: tasks, tolerance)")
    tasks = table.get("tasks", {})
    if not isinstance(tasks, dict):
        raise ConfigError(f"{where}.tasks: expected a table of task = tolerance")
    for name, value in [("tolerance", table.get("tolerance", 0.0)),
                        *((f"tasks.{k}", v) for k, v in tasks.items())]:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigError(f"{where}.{name}: expected a tolerance in [0, 1) (the largest "
                              "drop of the task's metric that passes)")
    tolerance = table.get("tolerance")
    return BenchGate(tolerance=None if tolerance is None else float(tolerance),
                     tasks={str(k): float(v) for k, v in tasks.items()})


def _grade(where: str, table: Any) -> GradeGate:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table (tolerance = …)")
    unknown = sorted(set(table) - {"tolerance"})
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: tolerance)")
    value = table.get("tolerance", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where}.tolerance: expected a number >= 0 (the largest drop of the "
                          "mean score, in score points, that passes)")
    return GradeGate(tolerance=float(value))


def _check_margin(where: str, margin: float) -> None:
    if not 0 <= margin < 0.5:
        raise ConfigError(f"{where}: a margin must be in [0, 0.5)")


def _name(kind: type | tuple[type, ...]) -> str:
    return "a number" if isinstance(kind, tuple) else {"str": "a string", "int": "an integer",
                                                        "dict": "a table",
                                                        "bool": "true or false"}[kind.__name__]


def load_gate_policy(config_path: str | None, policy_file: str | None = None) -> GatePolicy:
    """``[gate]`` from a separate policy file when given, else from the config file."""
    path = policy_file or config_path
    if path is None:
        return GatePolicy()
    p = Path(path)
    data = read_toml(p, "gate policy file")
    raw = data.get("gate", data if policy_file else {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: gate: expected a table")
    return parse_gate(raw, f"{p}: gate")
