"""Contamination scan speed: a generated text corpus against the 8-grams (and 13-grams) of
10,000 items, in one process; lm-eval's janitor on the same data in the same process; peak
memory for two corpus sizes; the same corpus on a 2-worker Dask LocalCluster.

    python bench/contamination_speed.py                 # 200 MB and 50 MB corpora
    python bench/contamination_speed.py --mb 20 --small-mb 5 --janitor-mb 2   # quick

Each measured scan runs in a fresh process (so its peak RSS is the scan's own), reading the
corpus file as ``evalkit contamination scan`` does (1 MiB chunks, newline cuts). Targets:
>= 60 MB of corpus per CPU-second, >= 20x the janitor, peak RSS under 1 GB and independent
of the corpus size. The janitor (pure Python mode: its C++ helper is not built by pip) runs on
the first --janitor-mb MB of the same corpus: at its speed the whole corpus would take
minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def vocabulary(rng: np.random.Generator, size: int = 50_000) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 11, size)
    return np.array(["".join(rng.choice(letters, k)) for k in lengths])


def zipf_words(rng: np.random.Generator, vocab: np.ndarray, k: int) -> np.ndarray:
    ranks = np.minimum(rng.zipf(1.15, k), len(vocab)) - 1
    return vocab[ranks]


def make_items(rng: np.random.Generator, vocab: np.ndarray, n: int) -> list[str]:
    out = []
    for _ in range(n):
        w = zipf_words(rng, vocab, int(rng.integers(20, 80)))
        out.append(" ".join(w[:10]).capitalize() + ", " + " ".join(w[10:]) + "?")
    return out


def make_corpus(path: Path, mb: int, rng: np.random.Generator, vocab: np.ndarray,
                items: list[str]) -> None:
    """Lines of 5–40 Zipf-distributed words with punctuation; about 1 line in 50 holds
    non-ASCII text (curly quotes, accents); 1% of the items are planted."""
    target = mb * 1_000_000
    planted = iter(items[: len(items) // 100])
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            block = []
            for _ in range(2000):
                w = zipf_words(rng, vocab, int(rng.integers(5, 40)))
                line = " ".join(w[:5]).capitalize() + ", " + " ".join(w[5:]) + "."
                r = rng.random()
                if r < 0.02:
                    line = "“" + line + "” — café naïve"
                elif r < 0.0025 + 0.02:
                    line += " " + next(planted, "")
                block.append(line)
            text = "\n".join(block) + "\n"
            fh.write(text)
            written += len(text.encode())


def child(args: argparse.Namespace) -> None:
    """One measured scan (and the janitor, and Dask), printed as JSON."""
    from evalkit.contamination.corpus import CorpusSpec
    from evalkit.contamination.engine import index_items
    from evalkit.contamination.scan import scan_local

    items = json.loads(Path(args.items_file).read_text())
    size = os.path.getsize(args.corpus)
    out: dict = {"corpus_mb": size / 1e6, "items": len(items)}
    cpu0 = time.process_time()
    index = index_items(items, args.ns)
    out["index_cpu_s"] = time.process_time() - cpu0
    patterns = index.patterns
    spec = CorpusSpec((args.corpus,), fmt="text")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    counts, _ = scan_local(spec, patterns)
    cpu = time.process_time() - cpu0
    out.update(scan_cpu_s=cpu, scan_wall_s=time.perf_counter() - wall0,
               mb_per_cpu_s=size / 1e6 / cpu, tokens=counts.tokens,
               found={str(n): int(len(f[0])) for n, f in counts.found.items()},
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.janitor_mb:
        out["janitor"] = janitor(args.corpus, items, args.janitor_mb, min(args.ns))
        out["ratio_vs_janitor"] = out["mb_per_cpu_s"] / out["janitor"]["mb_per_cpu_s"]
    if args.workers:
        out["dask"] = dask_run(spec, patterns, args.workers, out["scan_wall_s"],
                               out["scan_cpu_s"], counts)
    print(json.dumps(out))


def janitor(corpus: str, items: list[str], mb: float, n: int) -> dict:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lm_eval.decontamination.janitor import Janitor
    jan = Janitor(ngram_n=n, too_dirty_cutoff=10**9)
    cpu0 = time.process_time()
    for t in items:
        jan.register_contaminant_python(t)
    register = time.process_time() - cpu0
    done, dirty = 0, 0
    limit = int(mb * 1_000_000)
    cpu0 = time.process_time()
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            if len(jan.clean_python(line)) != 1:
                dirty += 1
            done += len(line.encode())
            if done >= limit:
                break
    cpu = time.process_time() - cpu0
    return {"mb": done / 1e6, "cpu_s": cpu, "mb_per_cpu_s": done / 1e6 / cpu,
            "register_cpu_s": register, "n": n, "lines_hit": dirty}


def _timed_piece(piece, spec, patterns, chunk):  # type: ignore[no-untyped-def]
    """scan_piece on a worker, with the CPU time of the thread that ran it."""
    import distributed

    from evalkit.contamination.dask_runner import scan_piece

    t0 = time.thread_time()
    out = scan_piece(piece, spec, patterns, chunk)
    return out, time.thread_time() - t0, distributed.get_worker().address


def dask_run(spec, patterns, workers: int, single_wall: float, single_cpu: float,
             single) -> dict:  # type: ignore[no-untyped-def]
    """The dask runner's own path (scan_dask), timed on the wall; then the same pieces again
    with each task's CPU time, for the speed-up the cluster would give on free cores (this
    machine's two cores are shared with other jobs, which the wall time feels)."""
    import distributed

    from evalkit.contamination.corpus import Problems, plan
    from evalkit.contamination.dask_runner import local_cluster, scan_dask
    from evalkit.contamination.engine import merge
    from evalkit.contamination.scan import ScanOptions

    t0 = time.perf_counter()
    cluster = local_cluster(workers)
    start = time.perf_counter() - t0
    size = os.path.getsize(spec.paths[0])
    piece_bytes = max(1 << 20, size // (4 * workers) + 1)
    try:
        opts = ScanOptions(scheduler=cluster.scheduler_address, piece_bytes=piece_bytes)
        t0 = time.perf_counter()
        counts, _ = scan_dask(spec, patterns, opts)
        wall = time.perf_counter() - t0
        with distributed.Client(cluster) as client:
            shared = client.scatter(patterns, broadcast=True)
            pieces = plan(spec, Problems("fail"), piece_bytes)
            done = client.gather([client.submit(_timed_piece, p, spec, shared, 1 << 20,
                                                pure=False) for p in pieces])
    finally:
        cluster.close()
    per_worker: dict[str, float] = {}
    for _, cpu, addr in done:
        per_worker[addr] = per_worker.get(addr, 0.0) + cpu
    merge_cpu0 = time.process_time()
    merge(patterns, [r[0][0] for r in done])
    merge_cpu = time.process_time() - merge_cpu0
    critical = max(per_worker.values()) + merge_cpu
    same = all(np.array_equal(counts.found[n][0], single.found[n][0])
               and np.array_equal(counts.found[n][1], single.found[n][1])
               for n in single.found)
    return {"workers": workers, "pieces": len(pieces), "cluster_start_s": start,
            "scan_wall_s": wall, "speedup_vs_one_process": single_wall / wall,
            "task_cpu_s": sum(per_worker.values()), "busiest_worker_cpu_s": max(
                per_worker.values()), "merge_cpu_s": merge_cpu,
            "speedup_on_free_cores": single_cpu / critical, "identical": same}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--small-mb", type=int, default=50)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--janitor-mb", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ns", type=int, nargs="+", default=[8, 13])
    ap.add_argument("--dir", default=None)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--corpus")
    ap.add_argument("--items-file")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    rng = np.random.default_rng(0)
    vocab = vocabulary(rng)
    items = make_items(rng, vocab, args.items)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="ek-contam-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.json").write_text(json.dumps(items))
    results = {}
    for mb, extra in ((args.small_mb, []), (args.mb, ["--janitor-mb", str(args.janitor_mb),
                                                      "--workers", str(args.workers)])):
        path = folder / f"corpus-{mb}mb.txt"
        if not path.exists():
            t0 = time.perf_counter()
            make_corpus(path, mb, np.random.default_rng(mb), vocab, items)
            print(f"generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        cmd = [sys.executable, __file__, "--child", "--corpus", str(path), "--items-file",
               str(folder / "items.json"), "--ns", *map(str, args.ns),
               "--janitor-mb", "0", "--workers", "0", *extra]
        results[mb] = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                text=True).stdout)
    big, small = results[args.mb], results[args.small_mb]
    print(f"items: {args.items:,} (n = {args.ns}); item index built in "
          f"{big['index_cpu_s']:.2f} CPU-s")
    for r in (small, big):
        print(f"corpus {r['corpus_mb']:.0f} MB: {r['mb_per_cpu_s']:.0f} MB per CPU-second "
              f"({r['scan_cpu_s']:.2f} CPU-s, {r['scan_wall_s']:.2f} s wall), "
              f"{r['tokens']:,} tokens, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"item n-grams found {r['found']}")
    j = big.get("janitor")
    if j:
        print(f"lm-eval janitor (python mode, n = {j['n']}) on the first {j['mb']:.1f} MB: "
              f"{j['mb_per_cpu_s']:.2f} MB per CPU-second -> evalkit is "
              f"{big['ratio_vs_janitor']:.0f}x faster")
    d = big.get("dask")
    if d:
        print(f"Dask LocalCluster, {d['workers']} workers, {d['pieces']} pieces: "
              f"{d['scan_wall_s']:.2f} s wall vs {big['scan_wall_s']:.2f} s in one process = "
              f"{d['speedup_vs_one_process']:.2f}x on this shared machine (cluster start "
              f"{d['cluster_start_s']:.1f} s, not counted); identical: {d['identical']}")
        print(f"  CPU: {d['task_cpu_s']:.2f} s in all tasks (one process: "
              f"{big['scan_cpu_s']:.2f} s), busiest worker {d['busiest_worker_cpu_s']:.2f} s + "
              f"merge {d['merge_cpu_s']:.3f} s -> {d['speedup_on_free_cores']:.2f}x on "
              f"{d['workers']} free cores")
    print(json.dumps({"results": results}, indent=None), file=sys.stderr)


if __name__ == "__main__":
    main()
