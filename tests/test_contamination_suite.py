"""A benchmark suite's documents scanned through the CLI (the shipped offline suite, read with
lm-eval as the model sees them zero-shot), rates per task, and a benchmark run's score on the
clean documents beside the full one (a stored run's per-document rows)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from sqlmodel import Session

from evalkit.contamination.report import exclusion, filter_samples
from evalkit.store import make_engine
from evalkit.store.models import BenchRun, BenchSample

SUITE = Path(__file__).resolve().parents[1] / "suites" / "offline"


def test_suite_scan_rates_per_task_and_clean_vs_full_for_a_run(tmp_path: Path) -> None:
    docs = [json.loads(x) for x in (SUITE / "data" / "arith_test.jsonl").read_text()
            .splitlines()]
    leaked = [docs[i]["question"] for i in (0, 4)]
    (tmp_path / "web.txt").write_text("crawl\n" + "\n".join(q.lower() for q in leaked) + "\n")
    out = json.loads(run_cli(["contamination", "scan", "--suite", str(SUITE), "--corpus",
                              "web.txt", "--db", "e.db", "--json"], tmp_path).stdout)
    assert out["source"]["kind"] == "suite"
    tasks = out["rates"]["by_task"]
    assert tasks["ek_arith"]["dirty"] == 2 and tasks["ek_facts"]["dirty"] == 0
    assert {d["item_id"] for d in out["dirtiest"] if d["label"] == "dirty"} == {
        "ek_arith:0", "ek_arith:4"}
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    metric = json.dumps({"exact_match,last-number": {"value": 0.5, "stderr": 0.1}})
    with Session(engine) as s:  # stored runs: m gets the leaked documents and 1 in 3 others
        for run, ckpt in (("run1", "m"), ("run2", "m2")):  # right; m2 gets 1 in 2
            s.add(BenchRun(id=run, checkpoint=ckpt, checkpoint_spec=ckpt,
                           suite=out["source"]["name"], task="ek_arith", source_hash="s",
                           task_hash="t", lm_eval_version="0", evalkit_version="0",
                           mode="chat", primary_metric="exact_match,last-number",
                           metrics_json=metric, config_json="{}", n_samples=len(docs)))
            s.flush()
            for d in range(len(docs)):
                right = (d in (0, 4) or d % 3 == 0) if ckpt == "m" else d % 2 == 0
                s.add(BenchSample(run_id=run, filter_name="last-number", doc_id=d,
                                  doc_hash=f"h{d}", prompt="p", target="t",
                                  metrics_json=json.dumps({"exact_match": float(right)})))
        s.commit()
    gain = json.loads(run_cli(["contamination", "report", "--bench-run", "run1", "--corpus",
                               "web", "--db", "e.db", "--json"], tmp_path).stdout)
    not_clean = tasks["ek_arith"]["dirty"] + tasks["ek_arith"]["partial"]  # shared phrasing
    assert gain["n"] == len(docs) and gain["n_clean"] == len(docs) - not_clean
    assert gain["gain"] > 0 and gain["ci"][0] <= gain["gain"] <= gain["ci"][1]
    both = json.loads(run_cli(["bench", "compare", "m", "m2", "--suite", str(SUITE), "--db",
                               "e.db", "--json", "--exclude-contaminated", "web"],
                              tmp_path).stdout)
    arith = next(t for t in both["tasks"] if t["task"] == "ek_arith")
    assert arith["n"] == len(docs) - not_clean
    assert any("not clean in the contamination scan" in n for n in arith["notes"])
    drop, reason, _ = exclusion(engine, out["source"]["name"], None, "web")
    assert {"ek_arith:0", "ek_arith:4"} <= drop and f"{not_clean} of" in reason
    kept = filter_samples([{"doc_id": d} for d in range(len(docs))], "ek_arith", drop)
    assert len(kept) == len(docs) - not_clean and {0, 4}.isdisjoint(
        s["doc_id"] for s in kept)
