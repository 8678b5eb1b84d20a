"""``evalkit judge-eval``: how far can a judge be trusted? Run it on human-labelled pairs
(LLMBar-style ``input / output_1 / output_2 / label``) in both orders and report agreement with
the humans (accuracy, Cohen's kappa), the position-flip rate, and position and length bias.

The pairs go through the ordinary pipeline: the labelled file becomes a pool with two imported
"checkpoints" (``<name>:output_1`` and ``<name>:output_2``), so every verdict is cached and a
re-run asks the judge nothing it already answered.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .backends.stored import StoredCheckpoint
from .compare import CompareOptions, Comparer, resolve_judge, run_until_interrupted
from .errors import InputError
from .importers.bundle import ImportBundle
from .importing import store_bundle
from .pools import PoolPrompt
from .stats import reliability
from .store import queries
from .store.models import JudgeEval


def read_labels(path: str | Path) -> list[dict[str, Any]]:
    """LLMBar-style pairs from a JSON list or JSONL; ``label`` 1 or 2 names the better output."""
    p = Path(path)
    if not p.is_file():
        raise InputError("labels file not found", path=str(p))
    text = p.read_text(encoding="utf-8")
    try:
        rows = (json.loads(text) if p.suffix == ".json"
                else [json.loads(line) for line in text.splitlines() if line.strip()])
    except json.JSONDecodeError as exc:
        raise InputError(f"bad JSON: {exc.msg}", path=str(p), line=exc.lineno) from None
    if not isinstance(rows, list) or not rows:
        raise InputError("expected a non-empty JSON list of labelled pairs", path=str(p))
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=str(p), line=i)
        for field in ("input", "output_1", "output_2", "label"):
            if field not in row:
                raise InputError("missing field", path=str(p), line=i, field=field)
        for field in ("input", "output_1", "output_2"):
            if not isinstance(row[field], str) or not row[field].strip():
                raise InputError("expected a non-empty string", path=str(p), line=i,
                                 field=field)
        if row["label"] not in (1, 2):
            raise InputError(f"expected 1 or 2, got {row['label']!r}", path=str(p), line=i,
                             field="label")
    return rows


def run_judge_eval(engine: Engine, config: Any, judge_name: str | None, labels_path: str,
                   *, progress: bool = False) -> dict[str, Any]:
    rows = read_labels(labels_path)
    stem = Path(labels_path).stem
    prompts = [PoolPrompt(id=f"{stem}-{i}", messages=({"role": "user", "content": r["input"]},))
               for i, r in enumerate(rows)]
    first, second = f"{stem}:output_1", f"{stem}:output_2"
    bundle = ImportBundle(source="labels", pool_name=f"labels:{stem}", prompts=prompts,
                          outputs={first: {p.id: r["output_1"] for p, r in zip(prompts, rows,
                                                                                  strict=True)},
                                   second: {p.id: r["output_2"] for p, r in zip(prompts, rows,
                                                                                   strict=True)}})
    info = store_bundle(engine, bundle, compare=False)
    pool = queries.find_pool(engine, info["pool"], info["pool_version"])
    assert pool is not None
    judge = resolve_judge(engine, config, judge_name)
    comparer = Comparer(engine, pool, prompts,
                        StoredCheckpoint.from_texts(first, bundle.outputs[first]),
                        StoredCheckpoint.from_texts(second, bundle.outputs[second]), judge,
                        CompareOptions(progress=progress))
    summary = run_until_interrupted(comparer.run())
    result = reliability_report(engine, summary["comparison_id"], rows)
    result.update(judge=judge.config.name, labels=str(labels_path), pairs=len(rows),
                  comparison_id=summary["comparison_id"])
    record = {"id": uuid.uuid4().hex[:16], "judge": judge.config.name,
              "judge_spec": judge.spec_hash, "labels": str(labels_path), "pool_id": pool.id,
              "comparison_id": summary["comparison_id"], "summary_json": json.dumps(result)}
    queries.upsert(engine, JudgeEval, [record])
    result["judge_eval_id"] = record["id"]
    return result


def reliability_report(engine: Engine, comparison_id: str,
                       rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Agreement and bias figures from a stored comparison of output_1 (x) vs output_2 (y)."""
    items = queries.comparison_items(engine, comparison_id)
    keys = [k for it in items for k in (it["judgment_cand_first"], it["judgment_base_first"])
            if k]
    judged = queries.judgments_by_key(engine, keys)
    to_judge = {"win": "y", "loss": "x", "tie": "tie"}
    judge_labels, human, order_x_first, order_y_first = [], [], [], []
    labels, len_a, len_b = [], [], []
    for it in sorted(items, key=lambda i: i["position"]):
        r = rows[it["position"]]
        judge_labels.append(to_judge.get(it["outcome"], "invalid"))
        human.append("x" if r["label"] == 1 else "y")
        x_first = judged.get(it["judgment_base_first"] or "")
        y_first = judged.get(it["judgment_cand_first"] or "")
        order_x_first.append((x_first or {}).get("verdict") or "invalid")
        order_y_first.append((y_first or {}).get("verdict") or "invalid")
        for j, (a, b) in ((x_first, (r["output_1"], r["output_2"])),
                          (y_first, (r["output_2"], r["output_1"]))):
            if j is not None and j.get("verdict"):
                labels.append(j["verdict"])
                len_a.append(len(a))
                len_b.append(len(b))
    human_longer = [("x" if len(r["output_1"]) > len(r["output_2"]) else "y")
                    for r in rows]
    return {
        "agreement": _clean(reliability.agreement(judge_labels, human)),
        "position_flip": _clean(reliability.position_flip_rate(order_x_first, order_y_first)),
        "first_position": _clean(reliability.first_position_win_rate(labels)),
        "longer_response": _clean(reliability.longer_response_win_rate(labels, len_a, len_b)),
        "human_longer_share": sum(h == lg for h, lg in zip(human, human_longer, strict=True))
        / len(rows),
        "outcomes": {k: judge_labels.count(k) for k in ("x", "y", "tie", "invalid")},
    }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly: numpy scalars and arrays to Python values."""
    import numpy as np

    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, dict):
            v = _clean(v)
        out[k] = v
    return out
