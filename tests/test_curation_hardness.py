"""Hardness: stored comparisons with a planted set of saturated prompts (every pair ties) and
a planted set of separating ones — the ranking puts them where they belong, the saturated
ones are flagged, and a discriminative sample of half the size has a CI no wider than the
documented figure (docs/curation.md: at most 1.05 x the full pool's decisive-win-rate CI
width), where a random half is about sqrt(2) wider."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli_json, run_cli

from evalkit.catalog import store_pool
from evalkit.curation.hardness import pool_hardness
from evalkit.curation.sample import SampleSpec, sample_pool
from evalkit.pools import PoolPrompt
from evalkit.stats.bt_counts import PromptCounts
from evalkit.stats.discrimination import ci_widths, prompt_discrimination
from evalkit.store import make_engine, queries

DOCUMENTED_RATIO = 1.05  # docs/curation.md, "Hardness"
STRENGTHS = {"sft": 0.0, "r1": 2.5, "r2": 5.0, "r3": 7.5}
TOPICS = ("math", "coding", "law", "writing")


def planted_prompts(per_topic: int = 20) -> list[PoolPrompt]:
    """Per topic, half separating (``sep``) and half saturated (``sat``) prompts."""
    out = []
    for topic in TOPICS:
        for j in range(per_topic):
            kind = "sep" if j % 2 == 0 else "sat"
            out.append(PoolPrompt(f"{topic}-{kind}-{j}", (
                {"role": "user", "content": f"A {kind} {topic} question number {j}."},),
                {"topic": topic}))
    return out


def plant(engine: Any, pool_name: str, prompts: list[PoolPrompt], *, seed: int = 0,
          sat_noise: float = 0.0, sep_ties: float = 0.0) -> None:
    """One stored comparison per checkpoint pair: saturated prompts tie (``sat_noise``: that
    share of them is decided by a coin instead), separating prompts go to the stronger
    checkpoint with Bradley–Terry probability (``sep_ties`` of them tie)."""
    pool, _ = store_pool(engine, pool_name, prompts, source="planted")
    rng = np.random.default_rng(seed)
    names = list(STRENGTHS)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            base, cand = names[a], names[b]
            p_cand = 1 / (1 + np.exp(STRENGTHS[base] - STRENGTHS[cand]))
            items = []
            for pos, p in enumerate(prompts):
                u, v = rng.random(), rng.random()
                if "-sat-" in p.id:
                    score = 0.5 if u >= sat_noise else float(v < 0.5)
                else:
                    score = 0.5 if u < sep_ties else float(v < p_cand)
                outcome = {1.0: "win", 0.5: "tie", 0.0: "loss"}[score]
                items.append({"position": pos, "sample": 0, "item_id": p.id,
                              "prompt_hash": p.prompt_hash, "outcome": outcome,
                              "strength": 1, "score": score})
            queries.save_comparison(engine, {
                "id": uuid.uuid4().hex[:16], "pool_id": pool.id, "baseline": base,
                "candidate": cand, "baseline_spec": base, "candidate_spec": cand,
                "judge": "sim", "judge_spec": "sim", "evalkit_version": "test", "seed": 0,
                "summary_json": json.dumps({"overall": {"n": len(items)}})}, items)


def test_discrimination_measure_on_small_cases() -> None:
    rows = [("tie", "a", "b", 0, 2, 0), ("tie", "b", "c", 0, 2, 0),
            ("win", "a", "b", 2, 0, 0), ("win", "b", "c", 2, 0, 0), ("win", "a", "c", 2, 0, 0),
            ("cycle", "a", "b", 2, 0, 0), ("cycle", "b", "c", 2, 0, 0),
            ("cycle", "c", "a", 2, 0, 0), ("half", "a", "b", 1, 1, 0)]
    d = {x.key: x for x in prompt_discrimination(PromptCounts.from_rows(rows))}
    assert d["tie"].discrimination == 0 and d["tie"].saturated and d["tie"].decisive == 0
    assert d["cycle"].discrimination == pytest.approx(0) and d["cycle"].decisive == 1
    assert d["win"].discrimination == pytest.approx(2 * np.std([1.0, 0.5, 0.0]))
    assert d["half"].discrimination == pytest.approx(0.5) and d["half"].pairs == 1
    # dropping prompts that only tie leaves the decisive width as it was
    counts = PromptCounts.from_rows([(f"p{i}", "a", "b", i % 3, 1, 1) for i in range(10)]
                                    + [(f"t{i}", "a", "b", 0, 2, 0) for i in range(10)])
    order = [f"p{i}" for i in range(10)] + [f"t{i}" for i in range(10)]
    w = ci_widths(counts, order)
    assert w.at(10)[0] == pytest.approx(w.at(20)[0]) and w.needed(w.at(20)[0]) == 10
    assert w.at(10)[1] != pytest.approx(w.at(20)[1])  # ties-as-half does change


def test_ranking_puts_planted_prompts_where_they_belong(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    prompts = planted_prompts()
    plant(engine, "planted", prompts)
    report = pool_hardness(engine, "planted")
    ranked = [h.id for h in report.prompts]
    sep = {p.id for p in prompts if "-sep-" in p.id}
    assert set(ranked[:40]) == sep  # every separating prompt above every saturated one
    assert {h.id for h in report.prompts if h.saturated} == set(ranked[40:])
    assert report.saturated == 40 and report.measured == 80
    assert len(report.comparisons) == 6 and report.checkpoints == tuple(sorted(STRENGTHS))
    assert all(h.discrimination == 0 and h.decisive == 0 for h in report.prompts[40:])
    assert min(h.discrimination or 0 for h in report.prompts[:40]) > 0.3
    by_topic = report.to_dict()["by_topic"]
    assert all(row["saturated"] == 10 for row in by_topic.values())


@pytest.mark.parametrize("noise", [(0.0, 0.0), (0.1, 0.15)], ids=["exact", "noisy"])
def test_discriminative_half_keeps_the_full_pools_ci_width(tmp_path: Path,
                                                           noise: tuple[float, float]) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    prompts = planted_prompts(per_topic=40)
    plant(engine, "planted", prompts, seed=1, sat_noise=noise[0], sep_ties=noise[1])
    half = len(prompts) // 2
    out = sample_pool(engine, "planted", SampleSpec(n=half, balance="topic",
                                                    prefer="discriminative", seed=0),
                      into="planted-half")
    chosen = {prompts[i].id for i in out.draw.chosen}
    assert out.draw.achieved == dict.fromkeys(sorted(TOPICS), 20)
    p = out.precision
    assert p is not None and p["pairs"] == 6
    ratio = p["sample"]["held_out_ratio_to_full"]  # chosen on the other pairs
    assert ratio <= DOCUMENTED_RATIO and p["sample"]["ratio_to_full"] <= DOCUMENTED_RATIO
    assert p["random_sample"]["ratio_to_full"] > 1.2  # a random half: about sqrt(2) wider
    if noise == (0.0, 0.0):
        assert chosen == {x.id for x in prompts if "-sep-" in x.id}
        assert ratio == pytest.approx(1.0)  # the saturated half adds no decisive verdict
        assert 0.9 * half <= p["needed_for_full_width"] <= half  # widths wobble near n
    else:
        assert len(chosen & {x.id for x in prompts if "-sep-" in x.id}) >= 0.95 * half
        assert p["needed_for_full_width"] <= half * 1.1


def test_hardness_and_discriminative_sample_through_the_cli(tmp_path: Path) -> None:
    plant(make_engine(f"sqlite:///{tmp_path / 's.db'}"), "planted", planted_prompts())
    report = cli_json(["pool", "hardness", "planted", "--db", "s.db"], tmp_path)
    assert report["saturated"] == 40 and report["judge"] == "sim"
    assert report["checkpoints"] == sorted(STRENGTHS)
    assert all("-sep-" in r["id"] for r in report["prompts"][:40])
    text = run_cli(["pool", "sample", "planted", "--n", "40", "--balance", "topic",
                    "--prefer", "discriminative", "--db", "s.db"], tmp_path).stdout
    assert "full pool" in text and "x1.00" in text
    assert "prompts needed for the full pool's CI width, in this draw's order: 40" in text
    missing = run_cli(["pool", "hardness", "nothing", "--db", "s.db"], tmp_path, check=False)
    assert missing.returncode == 2 and "no pool named 'nothing'" in missing.stderr


def test_curation_on_sqlite_and_postgresql(store_url: str, serve) -> None:
    """Annotate (cached), hardness, a discriminative sample and dedup on both backends."""
    from evalkit.config import parse_config
    from evalkit.curation.annotate import annotate_pool
    from evalkit.curation.classifier import load_classifier_template
    from evalkit.curation.dedup import dedup_pool
    from evalkit.curation.taxonomy import load_taxonomy
    from evalkit.store import pool_queries

    engine = make_engine(store_url)
    plant(engine, "planted", planted_prompts(per_topic=10))
    srv = serve({"models": {"clf": {"kind": "classifier"}}})
    cfg = parse_config({"classifiers": {"clf": {"base_url": srv.base_url, "model": "clf"}}})
    args = (cfg.classifier("clf"), load_classifier_template(), load_taxonomy())
    first = annotate_pool(engine, "planted", *args)
    again = annotate_pool(engine, "planted", *args, version=first.source_version)
    assert first.requested == 40 and again.requested == 0 and again.version == first.version
    pool = queries.find_pool(engine, "planted")
    assert pool is not None and pool.id is not None
    lineage = pool_queries.lineage(engine, pool.id)
    assert [d.operation for d in lineage] == ["annotate"]
    assert lineage[0].params["spec_hash"] == first.classifier["spec_hash"]
    assert len(pool_queries.labels_for_spec(engine, first.classifier["spec_hash"],
                                            [p.prompt_hash for p in planted_prompts(10)])) == 40
    report = pool_hardness(engine, "planted")
    assert report.saturated == 20 and all("-sep-" in h.id for h in report.prompts[:20])
    half = sample_pool(engine, "planted", SampleSpec(n=20, balance="topic",
                                                     prefer="discriminative"), into="half")
    assert half.precision is not None and half.precision["sample"]["ratio_to_full"] == 1.0
    dup = dedup_pool(engine, "planted", dry_run=True)  # "number 0" vs "number 2": near
    assert dup.result.clusters and dup.version is None
    versions = pool_queries.pool_versions(engine)
    assert [v.operation for v in versions if v.name == "planted"] == [None, "annotate"]
