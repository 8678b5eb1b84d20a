"""Time to answer: what a user waits for, whole process, as ratios and counts (issue 15).

Every evalkit command runs as a child process (``python -m evalkit …``), timed from just
before it is spawned to its exit; the scripted server runs in its own process and records
when the first chat request and the first ``GET /v1/models`` arrive (``first_request_at``).
Each figure is the median of ``--reps`` runs (the machine may be shared).

Prints:
  cached rerun   an 805-prompt compare whose every answer and verdict is stored: the process's
                 wall time, in seconds and as a ratio to the pipeline's own ``duration_s``
                 (target <= 1.0 s)
  first request  seconds from spawning a fresh compare to its first chat request (target
                 <= 0.5 s); the preflight's GET /models before it
  unreachable    seconds to the one-line error when every endpoint refuses connections
                 (target <= 1.0 s); and when an API key variable is not set
  judge-only     a fresh 805-pair compare (replayed answers, both orders, 100 ms latency,
                 64 in flight): wall time as a ratio to the endpoint-bound ideal
                 2 * pairs * latency / concurrency (target <= 1.3)
  imports        ``import evalkit.compare`` and ``import evalkit.cli.main`` (seconds, in a
                 fresh interpreter) with the three heaviest top-level packages by
                 ``-X importtime`` self time; ``evalkit --help``

Usage: python bench/time_to_answer.py [--prompts 805] [--reps 5] [--latency 0.1]
       [--concurrency 64] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

CATEGORIES = ("math", "coding", "law", "safety", "writing", "reasoning", "multilingual",
              "politics")
ENV = {**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}


def write_pool(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"q{i:04d}", "prompt": f"Question {i}: explain idea "
                                 f"{i} with one example.",
                                 "tags": {"category": CATEGORIES[i % len(CATEGORIES)],
                                          "difficulty": ("easy", "medium", "hard")[i % 3]}})
                     + "\n")


def write_replay(path: Path, model: str, n: int, words: int) -> None:
    """Answers the scripted judge recognises as ``model``'s (its marker), of varied length."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            body = " ".join(f"w{j}" for j in range(words // 2 + (i * 7) % words))
            fh.write(json.dumps({"id": f"q{i:04d}",
                                 "response": f"[sim model={model} prompt={i:010x}] {body}"})
                     + "\n")


def endpoint(url: str, model: str, concurrency: int, extra: str = "") -> str:
    return (f'base_url = "{url}"\nmodel = "{model}"\nmax_concurrency = {concurrency}\n'
            f"timeout = 60\nmax_retries = 2\n{extra}")


def write_configs(work: Path, url: str, down: str, concurrency: int) -> None:
    sampling = "sampling = { temperature = 0.0, max_tokens = 256, seed = 0 }\n"
    judge = f"[judges.sim]\n{endpoint(url, 'judge', concurrency)}\n[defaults]\njudge = \"sim\"\n"
    (work / "full.toml").write_text(
        f"[checkpoints.base]\n{endpoint(url, 'base', concurrency, sampling)}\n"
        f"[checkpoints.cand]\n{endpoint(url, 'cand', concurrency, sampling)}\n{judge}")
    (work / "replay.toml").write_text(
        '[checkpoints.rbase]\nbackend = "replay"\npath = "base.jsonl"\n\n'
        '[checkpoints.rcand]\nbackend = "replay"\npath = "cand.jsonl"\n\n' + judge)
    (work / "down.toml").write_text(
        f"[checkpoints.base]\n{endpoint(down, 'base', concurrency, sampling)}\n"
        f"[checkpoints.cand]\n{endpoint(down, 'cand', concurrency, sampling)}\n"
        f"[judges.sim]\n{endpoint(down, 'judge', concurrency)}\n"
        '[defaults]\njudge = "sim"\n')
    unset = 'api_key_env = "EVALKIT_BENCH_UNSET_KEY"\n' + sampling
    (work / "nokey.toml").write_text(
        f"[checkpoints.base]\n{endpoint(url, 'base', concurrency, unset)}\n"
        f"[checkpoints.cand]\n{endpoint(url, 'cand', concurrency, sampling)}\n{judge}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(latency: float, work: Path) -> tuple[subprocess.Popen[str], str]:
    scenario = {"latency": latency, "models": {
        "base": {"kind": "chat", "words": 60}, "cand": {"kind": "chat", "words": 75},
        "judge": {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.3}, "tie_prob": 0.1}}}
    (work / "scenario.json").write_text(json.dumps(scenario))
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.testing", "serve",
                             str(work / "scenario.json")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def server(url: str, path: str, post: bool = False) -> dict[str, Any]:
    root = url.rsplit("/v1", 1)[0]
    req = urllib.request.Request(root + path, data=b"{}" if post else None,
                                 method="POST" if post else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def evalkit(args: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)
            ) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``evalkit ARGS``: (unix time at spawn, wall seconds, the finished process)."""
    began, t0 = time.time(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise SystemExit(f"evalkit {' '.join(args)} exited {proc.returncode}:\n"
                         f"{proc.stderr[-3000:]}")
    return began, wall, proc


def fresh_store(work: Path, name: str) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(str(work / name) + suffix).unlink(missing_ok=True)
    shutil.copy(work / "template.db", work / name)
    return name


def import_figures(module: str, reps: int) -> dict[str, Any]:
    """Wall seconds of ``import MODULE`` in a fresh interpreter (median), and the three
    heaviest top-level packages by ``-X importtime`` self time (one run)."""
    code = ("import time; t = time.perf_counter(); import " + module +
            "; print(time.perf_counter() - t)")
    walls = [float(subprocess.run([sys.executable, "-c", code], env=ENV, check=True,
                                  capture_output=True, text=True).stdout) for _ in range(reps)]
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         env=ENV, check=True, capture_output=True, text=True).stderr
    by_package: Counter[str] = Counter()
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            by_package[m[2].split(".")[0]] += int(m[1])
    heavy = [(name, round(us / 1e6, 3)) for name, us in by_package.most_common(3)]
    return {"seconds": round(statistics.median(walls), 3), "heaviest": heavy,
            "modules": sum(1 for line in err.splitlines() if line.startswith("import time:"))
            - 1}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=805)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n, reps = args.prompts, args.reps
    med = statistics.median
    out: dict[str, Any] = {"prompts": n, "reps": reps, "latency": args.latency,
                           "concurrency": args.concurrency}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, url = start_server(args.latency, work)
        try:
            write_pool(work / "pool.jsonl", n)
            write_replay(work / "base.jsonl", "base", n, 60)
            write_replay(work / "cand.jsonl", "cand", n, 75)
            write_configs(work, url, f"http://127.0.0.1:{closed_port()}/v1", args.concurrency)
            evalkit(["pool", "import", "p", "pool.jsonl", "--db", "template.db"], work)

            # a fresh judge-only compare: first request, and the whole run against the ideal
            ideal = 2 * n * args.latency / args.concurrency
            runs = []
            for _ in range(reps):
                db = fresh_store(work, "judge.db")
                server(url, "/_evalkit/reset", post=True)
                began, wall, done = evalkit(["compare", "rbase", "rcand", "--pool", "p",
                                             "--config", "replay.toml", "--db", db, "--json"],
                                            work)
                first = server(url, "/_evalkit/stats")["first_request_at"]
                summary = json.loads(done.stdout)
                assert summary["requests"]["judge"] == {"judged": 2 * n}, summary["requests"]
                runs.append((wall, first["chat"] - began, first.get("models", 0) - began,
                             summary["duration_s"]))
            out["judge_only"] = {"ideal_s": round(ideal, 3),
                                 "wall_s": round(med(r[0] for r in runs), 3),
                                 "ratio": round(med(r[0] / ideal for r in runs), 3),
                                 "pipeline_s": round(med(r[3] for r in runs), 3)}
            out["first_request"] = {"chat_s": round(med(r[1] for r in runs), 3),
                                    "preflight_models_s": round(med(r[2] for r in runs), 3)}

            # a cached rerun of a generate-and-judge compare
            db = fresh_store(work, "cached.db")
            evalkit(["compare", "base", "cand", "--pool", "p", "--config", "full.toml", "--db",
                     db, "--json"], work)
            server(url, "/_evalkit/reset", post=True)
            reruns = []
            for _ in range(reps):
                _, wall, done = evalkit(["compare", "base", "cand", "--pool", "p", "--config",
                                         "full.toml", "--db", db, "--json"], work)
                summary = json.loads(done.stdout)
                reruns.append((wall, summary["duration_s"], summary.get("reused")))
            sent = server(url, "/_evalkit/stats")
            out["cached_rerun"] = {"wall_s": round(med(r[0] for r in reruns), 3),
                                   "pipeline_s": round(med(r[1] for r in reruns), 3),
                                   "ratio": round(med(r[0] / max(r[1], 1e-3)
                                                      for r in reruns), 1),
                                   "requests": sent["requests"],
                                   "models_probes": int("models" in sent["first_request_at"]),
                                   "reused": reruns[-1][2]}

            # misconfigurations: every endpoint refuses connections; an unset key variable
            errors = {}
            for name, cfg in (("unreachable", "down.toml"), ("missing_key", "nokey.toml")):
                walls, lines = [], ""
                for _ in range(reps):
                    db = fresh_store(work, "err.db")
                    _, wall, done = evalkit(["compare", "base", "cand", "--pool", "p",
                                             "--config", cfg, "--db", db], work, ok=(2,))
                    walls.append(wall)
                    lines = done.stderr.strip()
                assert len(lines.splitlines()) == 1, lines
                errors[name] = {"wall_s": round(med(walls), 3), "message": lines[:160]}
            out["errors"] = errors
        finally:
            proc.terminate()
            proc.wait()
    out["imports"] = {m: import_figures(m, reps) for m in ("evalkit.compare",
                                                           "evalkit.cli.main")}
    helps = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evalkit", "--help"], env=ENV, check=True,
                       capture_output=True)
        helps.append(time.perf_counter() - t0)
    out["help_s"] = round(med(helps), 3)
    if args.json:
        print(json.dumps(out))
        return
    c, f, j, e = out["cached_rerun"], out["first_request"], out["judge_only"], out["errors"]
    print(f"prompts={n} reps={reps} (medians) latency={args.latency}s "
          f"concurrency={args.concurrency}")
    print(f"cached rerun: {c['wall_s']:.2f} s whole process = {c['ratio']:.1f} x the pipeline's "
          f"{c['pipeline_s']:.3f} s (target <= 1.0 s); {c['requests']} requests, "
          f"{c['models_probes']} preflight probes, reused: {c['reused']}")
    print(f"first request of a fresh compare: {f['chat_s']:.2f} s (target <= 0.5 s); "
          f"preflight GET /models at {f['preflight_models_s']:.2f} s")
    print(f"unreachable endpoints: one-line error after {e['unreachable']['wall_s']:.2f} s "
          f"(target <= 1.0 s); unset API key variable: {e['missing_key']['wall_s']:.2f} s")
    print(f"fresh judge-only compare ({2 * n} judgments): {j['wall_s']:.2f} s whole process = "
          f"{j['ratio']:.2f} x the ideal {j['ideal_s']:.2f} s (target <= 1.3); pipeline "
          f"{j['pipeline_s']:.2f} s")
    for module, fig in out["imports"].items():
        heavy = ", ".join(f"{name} {sec:.3f} s" for name, sec in fig["heaviest"])
        print(f"import {module}: {fig['seconds']:.3f} s, {fig['modules']} modules; heaviest: "
              f"{heavy}")
    print(f"evalkit --help: {out['help_s']:.2f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
