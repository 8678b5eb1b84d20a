"""The records a benchmark run hands around: one task's result, a skipped task, the report
of a run, and the conversion of lm-eval's results and logged samples into store rows."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError
from ..hashing import content_hash


@dataclass(frozen=True)
class TaskResult:
    task: str
    run_id: str
    metric: str  # the primary metric, "metric,filter"
    value: float | None
    stderr: float | None
    n: int
    higher_is_better: bool
    metrics: dict[str, dict[str, float | None]]
    mode: str
    reused: bool  # a stored run of the same checkpoint and task: lm-eval did not run
    task_hash: str
    requests: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    task: str
    reason: str


@dataclass(frozen=True)
class BenchReport:
    checkpoint: str
    checkpoint_spec: str
    suite: str
    results: tuple[TaskResult, ...]
    skipped: tuple[Skipped, ...]
    requests: dict[str, int]
    lm_eval_version: str
    limit: int | None
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "checkpoint_spec": self.checkpoint_spec,
                "suite": self.suite, "limit": self.limit,
                "tasks": [asdict(r) for r in self.results],
                "skipped": [asdict(s) for s in self.skipped], "requests": self.requests,
                "lm_eval_version": self.lm_eval_version,
                "duration_s": round(self.duration_s, 3)}


# ---- metrics ---------------------------------------------------------------------------------

_SKIP = {"alias", "name", "sample_len", " ", ""}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def task_metrics(block: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """lm-eval's ``results[task]`` → ``{"metric,filter": {"value", "stderr"}}``, in its order."""
    out: dict[str, dict[str, float | None]] = {}
    for key, value in block.items():
        if key in _SKIP or "," not in key:
            continue
        metric, filt = key.split(",", 1)
        if metric.endswith("_stderr"):
            continue
        out[key] = {"value": _number(value), "stderr": _number(block.get(
            f"{metric}_stderr,{filt}"))}
    return out


def resolve_metric(wanted: str | None, metrics: dict[str, Any], where: str = "") -> str:
    """The suite's metric (``"acc,none"``, or ``"acc"`` for the first filter reporting it),
    or the task's first metric."""
    if not metrics:
        raise ConfigError(f"{where}: the task reported no metric")
    if wanted is None:
        return next(iter(metrics))
    if wanted in metrics:
        return wanted
    for key in metrics:
        if key.split(",", 1)[0] == wanted:
            return key
    raise ConfigError(f"{where}: metric '{wanted}' is not one the task reports (it reports: "
                      f"{', '.join(metrics)})")


# ---- hashes and samples ----------------------------------------------------------------------

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def task_hash(config: dict[str, Any], data_digests: list[str] | None = None) -> str:
    """lm-eval's resolved task config, with local data files by content (not by path) and
    Python objects by name (not by address)."""
    cfg = dict(config)
    cfg.pop("metadata", None)
    if data_digests is not None:
        kwargs = dict(cfg.get("dataset_kwargs") or {})
        kwargs["data_files"] = data_digests
        cfg["dataset_kwargs"] = kwargs
    text = _ADDRESS.sub("", json.dumps(cfg, sort_keys=True, default=str))
    return content_hash(text, 24)


def _text(value: Any) -> str:
    prompt = getattr(value, "prompt", None)  # lm-eval's JsonChatStr (chat messages as JSON)
    if isinstance(prompt, str):
        return prompt
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def sample_rows(run_id: str, samples: list[dict[str, Any]], output_type: str | None
                ) -> list[dict[str, Any]]:
    """lm-eval's logged samples → ``BenchSample`` rows: the prompt, the response (for
    log-likelihood tasks the option with the highest log-likelihood), the answer the metric
    saw, the target and the per-document metric values."""
    rows = []
    for s in samples:
        args = s.get("arguments") or [[""]]
        prompt = _text(args[0][0]) if args and args[0] else ""
        target: Any = s.get("target")
        if output_type == "multiple_choice":
            lls = [r[0] if isinstance(r, list | tuple) else r for r in s.get("filtered_resps")
                   or []]
            best = max(range(len(lls)), key=lambda i: lls[i]) if lls else None
            response = None if best is None else str(args[best][1]).strip()
            extracted = None if best is None else str(best)
            if isinstance(target, int) and 0 <= target < len(args):
                target = f"{target}: {str(args[target][1]).strip()}"
        elif output_type == "generate_until":
            resps = s.get("resps") or [[None]]
            response = resps[0][0] if resps and resps[0] else None
            filtered = (s.get("filtered_resps") or [None])[0]
            extracted = None if filtered is None else str(filtered)
        else:
            filtered = (s.get("filtered_resps") or [None])[0]
            response = extracted = None if filtered is None else json.dumps(filtered,
                                                                            default=str)
        metrics = {m: _jsonable(s.get(m)) for m in s.get("metrics", [])}
        rows.append({"run_id": run_id, "filter_name": str(s.get("filter", "none")),
                     "doc_id": int(s["doc_id"]), "doc_hash": str(s.get("doc_hash", "")),
                     "prompt": prompt, "response": None if response is None else str(response),
                     "extracted": extracted,
                     "target": target if isinstance(target, str) else json.dumps(
                         target, default=str),
                     "metrics_json": json.dumps(metrics)})
    return rows
