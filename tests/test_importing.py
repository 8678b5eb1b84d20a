"""Imported results in the store: round trip, comparisons without requests, soft verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.compare import compare_checkpoints
from evalkit.config import Config
from evalkit.importers import ImportBundle, ImportedJudgment
from evalkit.importing import load_bundle, store_bundle
from evalkit.pools import PoolPrompt
from evalkit.store import make_engine


def soft_bundle(n: int = 60, seed: int = 0) -> tuple[ImportBundle, np.ndarray]:
    """AlpacaEval-style: a reference shown first, the model second, soft preferences."""
    rng = np.random.default_rng(seed)
    prompts = [PoolPrompt(id=f"p{i}", messages=({"role": "user", "content": f"Q{i}?"},),
                          tags={"dataset": "helpful" if i % 2 else "koala"}) for i in range(n)]
    prefs = np.round(rng.uniform(1, 2, size=n), 4)
    prefs[:5] = [1.0, 2.0, 0.0, 1.5, 2.0]  # hard verdicts and draws mixed in
    outputs = {"ref": {p.id: f"ref answer {p.id}" for p in prompts},
               "model": {p.id: f"model answer {p.id} " + "x" * i for i, p in enumerate(prompts)}}
    judgments = []
    for p, pref in zip(prompts, prefs, strict=True):
        if pref == 0.0:
            label, preference = "tie", 0.5
        elif pref in (1.0, 2.0):
            label, preference = ("A" if pref == 1.0 else "B"), float(pref - 1)
        else:
            label, preference = None, float(pref - 1)
        judgments.append(ImportedJudgment(judge="weighted_gpt4", prompt_id=p.id,
                                          model_first="ref", model_second="model", label=label,
                                          strength=1 if label in ("A", "B") else 0,
                                          preference=preference, raw=f"raw {p.id}",
                                          extra={"price_per_example": 0.01}))
    bundle = ImportBundle(source="alpaca_eval", pool_name="alpaca", prompts=prompts,
                          outputs=outputs, judgments=judgments, extra={"note": "synthetic"})
    return bundle, prefs


def test_bundle_round_trips_through_the_store(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    bundle, _ = soft_bundle()
    info = store_bundle(engine, bundle)
    back = load_bundle(engine, info["import_id"])
    assert back == bundle


def test_imported_comparison_reports_alpaca_eval_numbers_exactly(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    bundle, prefs = soft_bundle()
    info = store_bundle(engine, bundle)
    (auto,) = info["comparisons"]
    assert (auto["baseline"], auto["candidate"]) == ("ref", "model")
    # AlpacaEval: win rate = mean(preference - 1) * 100 with 0 a draw (0.5); se = sd/sqrt(n)
    p = np.where(prefs == 0, 0.5, prefs - 1)
    summary = compare_checkpoints(Config(store_url=""), "ref", "model", pool="alpaca",
                                  engine=engine)
    o = summary["overall"]
    assert o["win_rate"] * 100 == pytest.approx(p.mean() * 100, abs=1e-9)
    assert o["se"] * 100 == pytest.approx(p.std(ddof=1) / np.sqrt(len(p)) * 100, abs=1e-9)
    assert o["n"] == len(p) and o["failed"] == 0 and o["invalid"] == 0
    assert summary["judge"] == "weighted_gpt4"
    assert summary["requests"]["judge"] == {"cached": len(p)}
    assert o["ci"][0] < o["win_rate"] < o["ci"][1]
    # the reverse view is the complement
    rev = compare_checkpoints(Config(store_url=""), "model", "ref", pool="alpaca",
                              engine=engine)["overall"]
    assert rev["win_rate"] == pytest.approx(1 - o["win_rate"])


def test_missing_imported_answers_are_failed_rows(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    bundle, _ = soft_bundle(n=10)
    del bundle.outputs["model"]["p3"]
    bundle.judgments = [j for j in bundle.judgments if j.prompt_id != "p3"]
    store_bundle(engine, bundle)
    o = compare_checkpoints(Config(store_url=""), "ref", "model", pool="alpaca",
                            engine=engine)["overall"]
    assert o["failed"] == 1 and o["n"] == 9
