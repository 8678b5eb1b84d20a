"""Contamination beside comparisons, through the real CLI and the scripted server: the win
rate on the clean prompts beside the full one with the gain and its paired CI, and
``--exclude-contaminated`` on ``compare`` and ``gate``; the clean-gain statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario, run_cli, write_config, write_pool

from evalkit.stats.contamination import clean_gain


def test_clean_gain_is_paired_and_covers_the_truth() -> None:
    rng = np.random.default_rng(0)
    n, inside, sims = 200, 0, 300
    for s in range(sims):  # dirty items score 0.8, clean ones 0.5: true gain 0.3 * 0.25
        clean = np.arange(n) >= n // 4
        scores = rng.binomial(1, np.where(clean, 0.5, 0.8)).astype(float)
        g = clean_gain(scores, clean, n_boot=400, seed=s)
        assert g.gain == g.full - g.clean
        inside += g.ci[0] <= 0.075 <= g.ci[1]
    assert 0.90 <= inside / sims <= 0.99
    g = clean_gain(np.ones(10), np.ones(10, bool))
    assert g.gain == 0 and g.ci == (0.0, 0.0)
    assert np.isnan(clean_gain(np.ones(4), np.zeros(4, bool)).clean)


@pytest.mark.slow
def test_compare_and_gate_exclude_contaminated_prompts(tmp_path: Path, serve) -> None:
    srv = serve(make_scenario())
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    write_pool(tmp_path / "pool.jsonl", n=40)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    leaked = "Question 1 about coding: explain it step by step."
    (tmp_path / "web.txt").write_text(f"some crawl text\n{leaked.upper()}\n"
                                      "Question 2 about law, explain it step by step!\n")
    out = json.loads(run_cli(["contamination", "scan", "--pool", "small", "--corpus",
                              "web.txt", "--json"], tmp_path).stdout)
    assert out["labels"]["dirty"] == 2
    assert {d["item_id"] for d in out["dirtiest"]} == {"q001", "q002"}
    full = json.loads(run_cli(["compare", "base", "cand", "--pool", "small", "--json"],
                              tmp_path).stdout)
    assert "excluded" not in full and full["pool"]["prompts"] == 40
    clean = json.loads(run_cli(["compare", "base", "cand", "--pool", "small", "--json",
                                "--exclude-contaminated", "web"], tmp_path).stdout)
    assert clean["pool"]["prompts"] == 38 and clean["excluded"]["items"] == 2
    assert "not clean in corpus 'web'" in clean["excluded"]["reason"]
    gain = json.loads(run_cli(["contamination", "report", "--comparison",
                               full["comparison_id"], "--corpus", "web.txt", "--json"],
                              tmp_path).stdout)
    assert gain["n"] == full["overall"]["n"] and gain["n_clean"] == gain["n"] - 2
    assert gain["clean"] == clean["overall"]["win_rate"] or abs(
        gain["clean"] - clean["overall"]["win_rate"]) < 0.06
    assert gain["ci"][0] <= gain["gain"] <= gain["ci"][1]
    text = run_cli(["contamination", "report", "--comparison", full["comparison_id"],
                    "--corpus", "web"], tmp_path).stdout
    assert "estimated gain from contamination" in text
    proc = run_cli(["gate", "cand", "--baseline", "base", "--pool", "small", "--json",
                    "--exclude-contaminated", "web"], tmp_path, check=False)
    report = json.loads(proc.stdout)
    assert report["excluded"]["items"] == 2
    proc = run_cli(["compare", "base", "cand", "--pool", "small", "--exclude-contaminated",
                    "other-corpus"], tmp_path, check=False)
    assert proc.returncode == 2 and "no contamination scan" in proc.stderr
