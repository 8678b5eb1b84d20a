"""Contamination reports from stored scans: rates per pool, suite, task and tag; for a
comparison or a benchmark run, the score on the clean subset beside the full score and the
estimated gain (full − clean) with a paired CI; the items to exclude for
``--exclude-contaminated``."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..store import contamination_queries as cq
from .matches import LABELS

KEEP = frozenset({"clean", "short"})  # what --exclude-contaminated keeps


def label_counts(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts per label; ``rate`` = not clean among scored items, ``dirty_rate`` = dirty,
    ``hit_rate`` = items with any hit_n-gram found among those long enough."""
    c = {lab: 0 for lab in LABELS}
    hits = hit_n = matched = 0
    for it in items:
        c[it["label"]] += 1
        matched += it["covered"] > 0
        if it.get("hit") is not None:
            hit_n += 1
            hits += bool(it["hit"])
    scored = c["clean"] + c["partial"] + c["dirty"]
    return {"n": sum(c.values()), **c, "scored": scored, "matched": matched,
            "rate": (c["partial"] + c["dirty"]) / scored if scored else None,
            "dirty_rate": c["dirty"] / scored if scored else None,
            "hit_rate": hits / hit_n if hit_n else None}


def rates(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall, per task (suites) and per tag value (pools)."""
    by_tag: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        for k, v in json.loads(it.get("tags_json") or "{}").items():
            if k != "task":
                by_tag[k][str(v)].append(it)
        if it.get("task"):
            by_task[it["task"]].append(it)
    return {"overall": label_counts(items),
            "by_task": {t: label_counts(v) for t, v in sorted(by_task.items())},
            "by_tag": {k: {v: label_counts(its) for v, its in sorted(vals.items())}
                       for k, vals in sorted(by_tag.items())}}


def scan_summary(scan: dict[str, Any], corpus: dict[str, Any] | None = None,
                 items: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A stored scan as the CLI's ``--json`` prints it."""
    out = {"scan_id": scan["id"], "source": {"kind": scan["source_kind"],
                                              "name": scan["source"],
                                              "version": scan["source_version"]},
           "method": scan["method"], "n": scan["n"], "hit_n": scan["hit_n"],
           "normaliser": scan["normaliser"],
           "thresholds": {"clean_below": scan["clean_below"], "dirty_from": scan["dirty_from"]},
           "labels": json.loads(scan["labels_json"]), "corpus_bytes": scan["corpus_bytes"],
           "corpus_tokens": scan["corpus_tokens"], "runner": scan["runner"],
           "duration_s": scan["duration_s"], "problems": json.loads(scan["problems_json"])}
    if corpus is not None:
        out["corpus"] = {"id": corpus["id"], "name": corpus["name"], "format": corpus["fmt"],
                         "field": corpus["field"] or None, "split": corpus["split"],
                         "size": corpus["size"], "content_hash": corpus["content_hash"],
                         "files": json.loads(corpus["files_json"])}
    if items is not None:
        out["rates"] = rates(items)
    return out


def latest_scan(engine: Engine, source: str, corpus: str, version: str | None = None
                ) -> dict[str, Any]:
    found = cq.find_scans(engine, source, corpus, version)
    if not found:
        what = f"'{source}'" + (f" (version {version[:12]})" if version else "")
        raise ConfigError(f"no contamination scan of {what} against corpus '{corpus}'; run "
                          f"`evalkit contamination scan --corpus PATH --pool {source}` "
                          "(or --suite) first")
    return found[0]


def exclusion(engine: Engine, source: str, version: str | None, corpus: str
              ) -> tuple[frozenset[str], str, dict[str, Any]]:
    """The ids of the items that are not clean in the newest scan of ``source`` (that
    version) against ``corpus``, and a sentence saying so."""
    scan = latest_scan(engine, source, corpus, version)
    items = cq.scan_items(engine, scan["id"])
    drop = frozenset(it["item_id"] for it in items if it["label"] not in KEEP)
    reason = (f"{len(drop)} of {len(items)} items not clean in corpus '{scan['corpus']}' "
              f"(scan {scan['id'][:12]}, {scan['n']}-gram coverage >= {scan['clean_below']:g})")
    return drop, reason, scan


def _clean_mask(ids: Sequence[str], items: Sequence[dict[str, Any]], what: str) -> Any:
    import numpy as np

    label = {it["item_id"]: it["label"] for it in items}
    missing = [i for i in ids if i not in label]
    if missing:
        raise ConfigError(f"{len(missing)} items of the {what} are not in the scan (e.g. "
                          f"'{missing[0]}'); scan the same pool or suite version")
    return np.array([label[i] in KEEP for i in ids], dtype=bool)


def comparison_gain(engine: Engine, comparison_id: str, corpus: str, *, seed: int = 0,
                    n_boot: int = 10_000) -> dict[str, Any]:
    """The candidate's win rate on all prompts and on the clean ones, and the gain."""
    import numpy as np

    from ..stats.contamination import clean_gain
    from ..store import queries

    comp = queries.get_comparison(engine, comparison_id)
    if comp is None:
        raise ConfigError(f"no comparison '{comparison_id}' in the store")
    summary = json.loads(comp["summary_json"])
    pool = summary["pool"]
    scan = latest_scan(engine, pool["name"], corpus, pool["version"])
    by_item: dict[str, list[float]] = defaultdict(list)
    for it in queries.comparison_items(engine, comp["id"]):
        if it["score"] is not None:
            by_item[it["item_id"]].append(float(it["score"]))
    ids = sorted(by_item)
    scores = np.array([np.mean(by_item[i]) for i in ids])
    mask = _clean_mask(ids, cq.scan_items(engine, scan["id"]), "comparison")
    gain = clean_gain(scores, mask, seed=seed, n_boot=n_boot)
    return {"comparison_id": comp["id"], "pool": pool, "baseline": comp["baseline"],
            "candidate": comp["candidate"], "score": "candidate win rate (ties 0.5)",
            "scan_id": scan["id"], "corpus": scan["corpus"], **gain.as_dict()}


def bench_gain(engine: Engine, run_id: str, corpus: str, *, seed: int = 0,
               n_boot: int = 10_000) -> dict[str, Any]:
    """A benchmark run's primary metric on all documents and on the clean ones."""
    import numpy as np

    from ..stats.contamination import clean_gain

    with engine.connect() as conn:
        run = conn.execute(text("SELECT id, suite, task, checkpoint, primary_metric FROM "
                                "benchrun WHERE id = :id"), {"id": run_id}).mappings().first()
        if run is None:
            raise ConfigError(f"no benchmark run '{run_id}' in the store")
        metric, _, filt = run["primary_metric"].partition(",")
        rows = conn.execute(text("SELECT doc_id, metrics_json FROM benchsample WHERE "
                                 "run_id = :id AND filter_name = :f ORDER BY doc_id"),
                            {"id": run_id, "f": filt or "none"}).all()
    scan = latest_scan(engine, run["suite"], corpus)
    samples = [(f"{run['task']}:{d}", json.loads(m).get(metric)) for d, m in rows]
    samples = [(i, float(v)) for i, v in samples if v is not None]
    ids = [i for i, _ in samples]
    mask = _clean_mask(ids, cq.scan_items(engine, scan["id"]), "benchmark run")
    gain = clean_gain(np.array([v for _, v in samples]), mask, seed=seed, n_boot=n_boot)
    return {"run_id": run_id, "suite": run["suite"], "task": run["task"],
            "checkpoint": run["checkpoint"], "score": run["primary_metric"],
            "scan_id": scan["id"], "corpus": scan["corpus"], **gain.as_dict()}


def filter_samples(samples: Iterable[Any], task: str, exclude: frozenset[str],
                   doc_id: str = "doc_id") -> list[Any]:
    """Benchmark samples (objects or dicts with a ``doc_id``) of ``task`` whose item
    ``task:doc_id`` is not excluded — for ``bench --exclude-contaminated``."""
    def ident(s: Any) -> str:
        d = s[doc_id] if isinstance(s, dict) else getattr(s, doc_id)
        return f"{task}:{d}"

    return [s for s in samples if ident(s) not in exclude]


def pool_exclusion(engine: Engine, pool: str, pool_version: str | None, corpus: str
                   ) -> tuple[frozenset[str], str]:
    """``--exclude-contaminated CORPUS`` for a pool: the prompt ids that are not clean in the
    newest scan of the pool's version (the latest, or ``pool_version``) against ``corpus``."""
    from ..catalog import resolve_pool

    row, _ = resolve_pool(engine, pool, pool_version)
    drop, reason, _ = exclusion(engine, pool, row.version, corpus)
    return drop, reason
