"""The whole curation workflow through the real CLI against the scripted server: import →
annotate (a keyword classifier) → dedup (planted copies) → balanced sample → ``evalkit
compare`` on the result with per-topic win rates → hardness and stats; every step a new
version with its provenance, human tags kept throughout."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import cli_json, run_cli, write_config

from evalkit.resources import shipped_pools

COPIES = {  # planted duplicates of shipped prompts: case, punctuation, a changed word
    "math-002": "SOLVE FOR X: 3X + 7 = 25",
    "math-001": "Quick one - a jacket is listed at $240 and it's 15% off today; what's the "
                "sale price??",
}


@pytest.mark.slow
def test_import_annotate_dedup_sample_compare(tmp_path: Path, serve) -> None:
    rows = [json.loads(line) for line in
            shipped_pools()["rlhf_prompts"].read_text(encoding="utf-8").splitlines() if line]
    by_id = {r["id"]: r for r in rows}
    for i, (src, text) in enumerate(COPIES.items()):
        rows.append({"id": f"copy-{i}", "messages": [{"role": "user", "content": text}],
                     "tags": by_id[src]["tags"]})
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    srv = serve({"models": {
        "base": {"kind": "chat"}, "cand": {"kind": "chat"}, "clf": {"kind": "classifier"},
        "judge": {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.8}, "tie_prob": 0.2}}})
    cfg = write_config(tmp_path / "evalkit.toml", srv.base_url, checkpoints=("base", "cand"))
    with cfg.open("a") as f:
        f.write(f'\n[classifiers.clf]\nbase_url = "{srv.base_url}"\nmodel = "clf"\n')

    run_cli(["pool", "import", "rl", "pool.jsonl"], tmp_path)
    ann = cli_json(["pool", "annotate", "rl", "--classifier", "clf"], tmp_path)
    assert ann["labelled"] == ann["pool"]["distinct_prompts"] == len(rows)
    assert ann["unparsable"] == 0 and ann["requests"]["sent"] == ann["pool"]["distinct_prompts"]
    assert set(ann["agreement"]) == {"topic", "difficulty", "language"}  # human tags exist
    assert ann["agreement"]["language"]["accuracy"] > 0.9

    dedup = cli_json(["pool", "dedup", "rl"], tmp_path)
    assert dedup["removed"] == 2 and dedup["pool"]["kept"] == len(rows) - 2
    assert {d for c in dedup["cluster_list"] for d in c["drop"]} == {"copy-0", "copy-1"}

    sample = cli_json(["pool", "sample", "rl", "--n", "60", "--balance", "topic",
                       "--stratify", "difficulty", "--seed", "3", "--as", "rl-60"], tmp_path)
    assert sample["balance"] == "llm.topic" and sample["pool"]["prompts"] == 60
    counts = sample["achieved"]
    capped = {t for t, k in counts.items() if k == sample["available"][t]}
    free = [k for t, k in counts.items() if t not in capped]
    assert max(free) - min(free) <= 1

    out = cli_json(["compare", "base", "cand", "--pool", "rl-60"], tmp_path)
    assert out["pool"]["prompts"] == 60 and out["pool"]["version"] == sample["pool"]["version"]
    topics = out["by_tag"]["llm.topic"]
    assert {t: b["n"] for t, b in topics.items()} == counts  # per-topic win rates
    assert all(0 <= b["win_rate"] <= 1 for b in topics.values())
    assert "category" in out["by_tag"]  # the human tags came along
    with sqlite3.connect(tmp_path / "evalkit.db") as db:
        (summary,) = db.execute("SELECT summary_json FROM comparison").fetchone()
        lineage = db.execute("SELECT d.operation FROM poolderivation d JOIN pool p ON "
                             "p.id = d.pool_id ORDER BY p.id").fetchall()
    assert "NaN" not in summary  # small tags: the stored summary stays valid JSON
    assert [op for (op,) in lineage] == ["annotate", "dedup", "sample"]

    hard = cli_json(["pool", "hardness", "rl-60"], tmp_path)
    assert hard["measured"] == 60 and len(hard["comparisons"]) == 1
    assert hard["saturated"] == sum(1 for p in hard["prompts"] if p["decisive"] == 0)
    stats = cli_json(["pool", "stats", "rl"], tmp_path)
    assert stats["duplicates"]["rate"] == 0 and stats["prompts"] == len(rows) - 2
    assert stats["tags"]["llm.topic"]["source"] == "classifier"
    assert stats["tags"]["category"]["source"] == "human"
    assert stats["languages"]["source"] == "tag language"
    dv = stats["diversity"]
    assert dv["tag"] == "llm.topic" and 0 < dv["normalized_entropy"] <= 1
    assert dv["effective_topics"] <= dv["topics"]
    text = run_cli(["pool", "list"], tmp_path).stdout
    assert "annotate of rl@" in text and "sample of rl@" in text
