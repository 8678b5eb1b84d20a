"""What evalkit's benchmark bookkeeping costs on top of lm-eval, measured in one process.

Part 1 — overhead ratio (target <= 1.15).
  The shipped offline suite (60 arithmetic + 30 instruction-following generations through the
  chat endpoint, 40 four-way multiple-choice questions = 160 log-likelihoods through
  /v1/completions with the server's tokenizer) on evalkit's scripted server with zero latency.
  evalkit:  run_suite on a fresh store (every answer stored as it arrives, runs and samples
            stored, the run lookup, the suite's hashes) — the work of `evalkit bench CKPT`.
  baseline: lm-eval alone, the same tasks (the same resolved task configs), the same two
            lm-eval models (local-chat-completions; local-completions with
            tokenizer_backend=remote), the same settings, simple_evaluate with log_samples=True.
  Each repetition runs the two back to back, in alternating order (a new checkpoint name on
  one store for evalkit, so nothing is cached); after one warm-up of each:
            ratio = median(evalkit) / median(lm-eval)
  and, less sensitive to other load on the machine, the median of the per-repetition ratios,
  the ratio of the minima and the ratio of the process's CPU time (the scripted server's
  thread included, on both sides).

Part 2 — a cached rerun of 10,000 samples (target < 2 s).
  A suite with one generate_until task of 10,000 arithmetic documents is run once (10,000
  requests), then again. Reported: the rerun in-process (run_suite), the rerun as a user runs it
  (`evalkit bench CKPT --suite S`, a new Python process, wall time), and --rescore (lm-eval run
  again on the 10,000 stored answers; no request either).

Usage: python bench/bench_overhead.py [--reps 15] [--docs 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def _config(url: str, names: list[str], db: Path) -> Any:
    from evalkit.config import parse_config

    return parse_config({"store": {"url": f"sqlite:///{db}"}, "checkpoints": {
        n: {"base_url": url, "model": "m", "completions_url": url, "max_concurrency": 8,
            "max_retries": 2} for n in names}})


def lm_eval_alone(url: str, suite: Any) -> float:
    """The same tasks through lm-eval's own simple_evaluate, nothing stored (wall seconds)."""
    import lm_eval
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    from evalkit.bench.runner import _custom_config

    began = time.perf_counter()
    tm = TaskManager(include_path=str(suite.folder), include_defaults=False)
    common = {"model": "m", "num_concurrent": 8, "max_retries": 3, "timeout": 120,
              "header": {"User-Agent": "evalkit"}}
    chat = get_model("local-chat-completions")(base_url=url + "/chat/completions",
                                               tokenizer_backend=None,
                                               tokenized_requests=False, **common)
    specs = {n: _custom_config(tm, suite, n) for n in ("ek_arith", "ek_follow", "ek_facts")}
    lm_eval.simple_evaluate(model=chat, tasks=[specs["ek_arith"], specs["ek_follow"]],
                            task_manager=tm, log_samples=True, apply_chat_template=True,
                            fewshot_as_multiturn=True, bootstrap_iters=suite.bootstrap_iters)
    comp = get_model("local-completions")(base_url=url + "/completions",
                                          tokenizer_backend="remote", auth_token=None,
                                          **common)
    lm_eval.simple_evaluate(model=comp, tasks=[specs["ek_facts"]], task_manager=tm,
                            log_samples=True, apply_chat_template=False,
                            fewshot_as_multiturn=False, bootstrap_iters=suite.bootstrap_iters)
    return time.perf_counter() - began


def evalkit_run(url: str, suite: Any, name: str, db: Path) -> tuple[float, Any]:
    """``evalkit bench NAME`` on an existing store (a new checkpoint: nothing is cached)."""
    from evalkit.bench.runner import run_suite
    from evalkit.store import make_engine

    began = time.perf_counter()
    cfg = _config(url, [name], db)
    engine = make_engine(cfg.store_url)
    report = run_suite(cfg, name, suite, engine=engine)
    engine.dispose()  # as the command's exit would
    return time.perf_counter() - began, report


def part1(reps: int, work: Path) -> dict[str, Any]:
    from evalkit.bench.suites import load_suite
    from evalkit.testing import ScriptedServer
    from evalkit.testing.completions import offline_items

    suite = load_suite("offline")
    scenario = {"bench": {"items": offline_items(),
                          "models": {"m": {"correct": {"ek_arith": 0.7, "ek_facts": 0.5,
                                                       "ek_follow": 0.8}}}}}
    ours: list[float] = []
    theirs: list[float] = []
    cpu_ours: list[float] = []
    cpu_theirs: list[float] = []
    with ScriptedServer(scenario) as srv:
        url = srv.base_url
        lm_eval_alone(url, suite)  # warm-up: imports, datasets' arrow cache
        evalkit_run(url, suite, "warm", work / "store.db")  # and the store's creation
        for i in range(reps):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for which in order:
                cpu = time.process_time()
                if which == 0:
                    seconds, report = evalkit_run(url, suite, f"ckpt{i}", work / "store.db")
                    assert report.requests["sent"] == 250, report.requests
                    ours.append(seconds)
                    cpu_ours.append(time.process_time() - cpu)
                else:
                    theirs.append(lm_eval_alone(url, suite))
                    cpu_theirs.append(time.process_time() - cpu)
    ratio = statistics.median(ours) / statistics.median(theirs)
    return {"evalkit_s": ours, "lm_eval_s": theirs, "median_evalkit_s": statistics.median(ours),
            "median_lm_eval_s": statistics.median(theirs), "ratio": ratio,
            "ratio_min": min(ours) / min(theirs),
            "ratio_paired": statistics.median(a / b for a, b in zip(ours, theirs,
                                                                    strict=True)),
            "ratio_cpu": statistics.median(cpu_ours) / statistics.median(cpu_theirs)}


ARITH_YAML = """\
task: big_arith
dataset_path: json
dataset_kwargs:
  data_files:
    test: data.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_target: "{{answer}}"
generation_kwargs:
  until: ["\\n\\n"]
  do_sample: false
  max_gen_toks: 16
filter_list:
  - name: last-number
    filter:
      - function: regex
        regex_pattern: "(-?[0-9]+)"
        group_select: -1
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def part2(docs: int, work: Path) -> dict[str, Any]:
    from evalkit.bench.runner import RunOptions, run_suite
    from evalkit.bench.suites import load_suite
    from evalkit.store import bench_queries, make_engine
    from evalkit.testing import ScriptedServer

    folder = work / "suites" / "big"
    folder.mkdir(parents=True)
    items = []
    with open(folder / "data.jsonl", "w", encoding="utf-8") as fh:
        for i in range(docs):
            q = f"Item {i}: what is {i % 97} plus {i // 97}?"
            fh.write(json.dumps({"question": q, "answer": str(i % 97 + i // 97)}) + "\n")
            items.append({"task": "big_arith", "q": q, "a": f"It is {i % 97 + i // 97}."})
    (folder / "big.yaml").write_text(ARITH_YAML, encoding="utf-8")
    (folder / "suite.toml").write_text('[tasks.big_arith]\nmetric = "exact_match"\n',
                                       encoding="utf-8")
    db = work / "big.db"
    scenario = {"bench": {"items": items, "models": {"m": {"correct": 0.75}}}}
    out: dict[str, Any] = {"docs": docs}
    with ScriptedServer(scenario) as srv:
        cfg = _config(srv.base_url, ["big"], db)
        (work / "evalkit.toml").write_text(
            f'[store]\nurl = "sqlite:///{db}"\n[checkpoints.big]\nbase_url = "{srv.base_url}"'
            f'\nmodel = "m"\nmax_concurrency = 8\n', encoding="utf-8")
        engine = make_engine(cfg.store_url)
        suite = load_suite(str(folder))
        began = time.perf_counter()
        first = run_suite(cfg, "big", suite, engine=engine)
        out["first_run_s"] = time.perf_counter() - began
        out["first_run_requests"] = first.requests
        out["stored_samples"] = len(bench_queries.run_samples(engine, first.results[0].run_id))
        srv.reset()
        began = time.perf_counter()
        again = run_suite(cfg, "big", load_suite(str(folder)), engine=engine)
        out["rerun_in_process_s"] = time.perf_counter() - began
        began = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "evalkit", "bench", "big", "--suite",
                               str(folder), "--json"], cwd=work, capture_output=True,
                              text=True, check=True)
        out["rerun_cli_s"] = time.perf_counter() - began
        assert json.loads(proc.stdout)["tasks"][0]["reused"]
        began = time.perf_counter()
        rescored = run_suite(cfg, "big", suite, RunOptions(rescore=True), engine=engine)
        out["rescore_s"] = time.perf_counter() - began
        out["rerun_requests_at_server"] = srv.stats()["requests"]
        out["rescore_requests"] = rescored.requests
        out["value"] = [first.results[0].value, again.results[0].value,
                        rescored.results[0].value]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--docs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.setdefault("HF_HOME", str(work / "hf"))
        os.environ.setdefault("HF_DATASETS_CACHE", str(work / "hf" / "datasets"))
        one = part1(args.reps, work)
        print(f"Part 1 — offline suite, {args.reps} reps (alternating), zero-latency server")
        print(f"  evalkit bench  median {one['median_evalkit_s']:.3f} s  "
              f"{[round(x, 3) for x in one['evalkit_s']]}")
        print(f"  lm-eval alone  median {one['median_lm_eval_s']:.3f} s  "
              f"{[round(x, 3) for x in one['lm_eval_s']]}")
        print(f"  ratio of medians {one['ratio']:.3f}; median of the {args.reps} back-to-back "
              f"pairs' ratios {one['ratio_paired']:.3f}; ratio of minima "
              f"{one['ratio_min']:.3f}  (target <= 1.15)")
        print(f"  CPU time of the process (client and server threads), ratio of medians "
              f"{one['ratio_cpu']:.3f}")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores")
        two = part2(args.docs, work)
        print(f"Part 2 — {two['docs']:,} samples (generate_until)")
        print(f"  first run {two['first_run_s']:.1f} s, requests {two['first_run_requests']}, "
              f"{two['stored_samples']:,} samples stored")
        print(f"  cached rerun in-process {two['rerun_in_process_s']:.3f} s; as a command "
              f"(new process) {two['rerun_cli_s']:.2f} s  (target < 2 s); "
              f"requests at the server {two['rerun_requests_at_server']}")
        print(f"  --rescore (lm-eval again on the stored answers) {two['rescore_s']:.1f} s, "
              f"requests {two['rescore_requests']}")
        print(f"  accuracy first/rerun/rescore {two['value']}")


if __name__ == "__main__":
    main()
