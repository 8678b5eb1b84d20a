"""`evalkit import` through the CLI on real data (../shared/data) and on files in each
format's documented layout; imported results compare, rank and round-trip like our own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, cli_json, run_cli

from evalkit.importers import read_arena_hard, read_mt_bench
from evalkit.importing import load_bundle, store_bundle
from evalkit.store import make_engine

ARENA = SHARED_DATA / "arena-hard-v0.1"
MODELS = ("gpt-3.5-turbo-0125", "gpt-4-0314", "gpt-4-0613")
needs_arena = pytest.mark.skipif(not ARENA.is_dir(), reason="../shared/data/arena-hard-v0.1 "
                                 "is not present (it is only in the project's CI)")


def _answers() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for model in MODELS:
        rows = [json.loads(line) for line in (ARENA / "model_answer" / f"{model}.jsonl")
                .read_text(encoding="utf-8").splitlines() if line.strip()]
        out[model] = {r["uid"]: r["messages"][-1]["content"]["answer"] for r in rows}
    return out


@needs_arena
def test_arena_hard_answers_become_three_checkpoints_judged_and_ranked(serve,
                                                                       tmp_path: Path) -> None:
    answers = [str(ARENA / "model_answer" / f"{m}.jsonl") for m in MODELS]
    info = cli_json(["import", "arena-hard", "--questions", str(ARENA / "question.jsonl"),
                     *[x for a in answers for x in ("--answers", a)]], tmp_path)
    assert info["prompts"] == 500 and info["models"] == sorted(MODELS)
    assert info["judgments"] == 0 and info["comparisons"] == []

    srv = serve({"models": {"judge": {"kind": "judge", "rule": "longer"}}})
    (tmp_path / "evalkit.toml").write_text(
        f'[judges.longer]\nbase_url = "{srv.base_url}"\nmodel = "judge"\n'
        'max_concurrency = 32\n[defaults]\njudge = "longer"\n', encoding="utf-8")
    limit = 120
    out = cli_json(["compare", "gpt-4-0314", "gpt-4-0613", "--pool", "arena_hard",
                    "--limit", str(limit)], tmp_path)
    # independent: the scripted judge prefers the longer answer in both orders
    texts = _answers()
    uids = [json.loads(line)["uid"] for line in (ARENA / "question.jsonl")
            .read_text(encoding="utf-8").splitlines()[:limit]]
    scores = []
    for uid in uids:
        a, b = len(texts["gpt-4-0314"][uid]), len(texts["gpt-4-0613"][uid])
        scores.append(1.0 if b > a else 0.0 if b < a else 0.5)
    assert out["overall"]["n"] == limit and out["overall"]["failed"] == 0
    assert out["overall"]["win_rate"] == pytest.approx(np.mean(scores))
    assert out["overall"]["se"] == pytest.approx(np.std(scores, ddof=1) / np.sqrt(limit))
    assert srv.stats()["by_model"]["judge"]["requests"] == 2 * limit
    assert set(out["by_tag"]) == {"category"}

    cli_json(["compare", "gpt-3.5-turbo-0125", "gpt-4-0314", "--pool", "arena_hard",
              "--limit", str(limit)], tmp_path)
    board = cli_json(["leaderboard", "--pool", "arena_hard"], tmp_path)
    assert {r["checkpoint"] for r in board["ratings"]} == set(MODELS)
    lengths = {m: np.mean([len(t) for t in texts[m].values()]) for m in MODELS}
    for r in board["ratings"]:
        assert r["avg_length"] == pytest.approx(lengths[r["checkpoint"]])


@needs_arena
def test_real_arena_hard_and_mt_bench_round_trip_through_the_store(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    bundle = read_arena_hard(ARENA / "question.jsonl",
                             [ARENA / "model_answer" / f"{m}.jsonl" for m in MODELS])
    assert load_bundle(engine, store_bundle(engine, bundle)["import_id"]) == bundle
    mt = SHARED_DATA / "mt_bench"
    bundle = read_mt_bench(mt / "question.jsonl", [],
                           reference_file=mt / "reference_answer" / "gpt-4.jsonl")
    assert load_bundle(engine, store_bundle(engine, bundle)["import_id"]) == bundle


def test_alpaca_eval_files_import_and_compare_with_alpaca_evals_own_numbers(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    instructions = [f"Write a note about topic {i}." for i in range(50)]
    ref = [{"instruction": q, "output": f"Reference note {i}.", "generator": "gpt4_turbo",
            "dataset": "helpful_base"} for i, q in enumerate(instructions)]
    mine = [{"instruction": q, "output": f"My longer note {i}!", "generator": "my-model",
             "dataset": "helpful_base"} for i, q in enumerate(instructions)]
    prefs = [float(x) for x in np.round(rng.uniform(1, 2, 50), 5)]
    prefs[:4] = [1.0, 2.0, 1.5, 0]  # hard, hard, draw, old-style draw
    annotations = [{"instruction": q, "output_1": r["output"], "generator_1": "gpt4_turbo",
                    "output_2": m["output"], "generator_2": "my-model",
                    "annotator": "weighted_alpaca_eval_gpt4_turbo", "preference": p,
                    "raw_completion": None}
                   for q, r, m, p in zip(instructions, ref, mine, prefs, strict=True)]
    (tmp_path / "ref.json").write_text(json.dumps(ref))
    (tmp_path / "mine.json").write_text(json.dumps(mine))
    (tmp_path / "annotations.json").write_text(json.dumps(annotations))
    info = cli_json(["import", "alpaca-eval", "--outputs", "ref.json", "--outputs",
                     "mine.json", "--annotations", "annotations.json"], tmp_path)
    assert info["judgments"] == 50 and len(info["comparisons"]) == 1
    out = cli_json(["compare", "gpt4_turbo", "my-model", "--pool", "alpaca_eval"], tmp_path)
    p = np.array([0.5 if x in (0, 1.5) else x - 1 for x in prefs])
    assert out["overall"]["win_rate"] * 100 == pytest.approx(p.mean() * 100, abs=1e-9)
    assert out["overall"]["se"] * 100 == pytest.approx(p.std(ddof=1) / np.sqrt(50) * 100,
                                                       abs=1e-9)
    assert out["judge"] == "weighted_alpaca_eval_gpt4_turbo"
    proc = run_cli(["import", "alpaca-eval", "--outputs", "nope.json"], tmp_path, check=False)
    assert proc.returncode == 2 and "nope.json" in proc.stderr
