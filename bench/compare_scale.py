"""Scale of `evalkit compare`: a 100,000-prompt pool, end to end through the real CLI.

Makes a tagged pool of N prompts, imports it, and runs `evalkit compare base cand` twice
against the scripted server (its own process; low latency, many requests in flight): the first
run generates 2N answers and makes 2N judge calls, the second finds everything cached. Each
evalkit command runs as a child process, so its peak memory is its own (``ru_maxrss`` from
``wait4``, the kernel's high-water mark of the resident set: VmHWM).

Prints, per command: wall seconds and peak RSS (MiB); then the cached rerun's wall time as a
fraction of the first run's. Targets (issue 12): peak RSS under 1 GiB, the rerun in seconds.

Usage: python bench/compare_scale.py [--prompts 100000] [--latency 0.002] [--concurrency 128]
       [--keep DIR]   (keep the store and pool in DIR instead of a temporary folder)
       [--json]       (one JSON object instead of the table; tests/test_scale.py reads it)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CATEGORIES = ("math", "coding", "law", "safety", "writing", "reasoning", "multilingual",
              "politics")


def write_pool(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"id": f"q{i:06d}", "prompt": f"Question {i}: explain idea {i % 977} "
                   f"in the setting of case {i // 977}, with one example.",
                   "tags": {"category": CATEGORIES[i % len(CATEGORIES)],
                            "difficulty": ("easy", "medium", "hard")[i % 3]}}
            fh.write(json.dumps(row) + "\n")


def write_config(path: Path, url: str, concurrency: int) -> None:
    parts = ['[store]\nurl = "sqlite:///scale.db"\n']
    for name in ("base", "cand"):
        parts.append(f'[checkpoints.{name}]\nbase_url = "{url}"\nmodel = "{name}"\n'
                     f"max_concurrency = {concurrency}\ntimeout = 60\n"
                     "sampling = { temperature = 0.0, max_tokens = 256, seed = 0 }\n")
    parts.append(f'[judges.sim]\nbase_url = "{url}"\nmodel = "judge"\n'
                 f"max_concurrency = {concurrency}\ntimeout = 60\n")
    parts.append('[defaults]\njudge = "sim"\n')
    path.write_text("\n".join(parts), encoding="utf-8")


def start_server(latency: float, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    scenario = {"latency": latency, "models": {
        "base": {"kind": "chat", "words": 60}, "cand": {"kind": "chat", "words": 75},
        "judge": {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.3}, "tie_prob": 0.1}}}
    path = workdir / "scenario.json"
    path.write_text(json.dumps(scenario))
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.testing", "serve", str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def measured(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run ``evalkit ARGS`` as a child: (wall seconds, peak RSS in MiB, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "evalkit", *args], cwd=cwd, text=True,
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"evalkit {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{err.read()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=100_000)
    ap.add_argument("--latency", type=float, default=0.002)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        server, url = start_server(args.latency, work)
        try:
            write_pool(work / "pool.jsonl", args.prompts)
            write_config(work / "evalkit.toml", url, args.concurrency)
            results = {"import": measured(["pool", "import", "big", "pool.jsonl"], work)}
            results["compare"] = measured(["compare", "base", "cand", "--pool", "big",
                                           "--json"], work)
            results["rerun"] = measured(["compare", "base", "cand", "--pool", "big",
                                         "--json"], work)
        finally:
            server.terminate()
            server.wait()
        first = json.loads(results["compare"][2])
        again = json.loads(results["rerun"][2])
        assert first["overall"] == again["overall"], "the cached rerun changed the numbers"
        assert first["overall"]["n"] == args.prompts, first["overall"]
        assert again["requests"]["judge"] == {"cached": 2 * args.prompts}, again["requests"]
    ratio = results["rerun"][0] / results["compare"][0]
    if args.json:
        print(json.dumps({name: {"wall_s": round(wall, 3), "peak_rss_mib": round(peak, 1)}
                          for name, (wall, peak, _) in results.items()}
                         | {"prompts": args.prompts, "rerun_ratio": round(ratio, 4)}))
        return
    print(f"prompts={args.prompts} latency={args.latency}s concurrency={args.concurrency} "
          f"requests={4 * args.prompts}")
    for name, (wall, peak, _) in results.items():
        print(f"{name:8s} wall {wall:8.1f} s   peak RSS {peak:7.0f} MiB")
    print(f"cached rerun / first run = {ratio:.3f}   (peak RSS target < 1024 MiB)")


if __name__ == "__main__":
    main()
