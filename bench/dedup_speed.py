"""Near-duplicate detection at scale: MinHash/LSH (evalkit.curation.dedup) on generated
prompts with planted near-duplicates.

Data: prompts of 8-40 words drawn at random from a 6,000-word vocabulary (seeded), so two
generated prompts share almost no 5-character shingles; then 10% of them get a planted
near-duplicate, one of: case changed, punctuation changed, one word changed, one word
inserted, one word dropped (and 1% a second variant of the same original). The planted
groups (an original with its variants) are the truth: every pair inside a group is a true
duplicate pair.

Part 1 — scale: find_duplicates on 10,000 and 100,000 prompts; prompts per second, recall and
  precision of the planted pairs (a pair is found when both texts land in one cluster), and
  time(100k) / time(10k)                                                   (target <= 15)
Part 2 — against the exact method: on a 5,000-prompt subset, every pair's exact shingle
  Jaccard (all_pairs_jaccard: a sparse all-pairs intersection count) vs MinHash/LSH at the
  same threshold: recall (exact pairs that LSH put in one cluster) and precision (pairs LSH
  put in one cluster whose exact Jaccard reaches the threshold; a pair joined only through a
  third text counts against it), and the time ratio exact / LSH.

Usage: python bench/dedup_speed.py [--n 100000] [--small 10000] [--subset 5000]
       [--threshold 0.7] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations

import numpy as np

from evalkit.curation.dedup import DedupConfig, all_pairs_jaccard, find_duplicates

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def vocabulary(rng: np.random.Generator, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(3, 10))
        words.add("".join(rng.choice(LETTERS, n)))
    return sorted(words)


def variant(text: str, vocab: list[str], rng: np.random.Generator) -> str:
    words = text.split()
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return text.upper() if rng.random() < 0.5 else text.title()
    if kind == 1:
        return text.rstrip("?.!") + rng.choice(["!!", " ?", "...", ";"])
    i = int(rng.integers(0, len(words)))
    if kind == 2:
        words[i] = vocab[int(rng.integers(0, len(vocab)))]
    elif kind == 3:
        words.insert(i, vocab[int(rng.integers(0, len(vocab)))])
    else:
        del words[i]
    return " ".join(words)


def generate(n: int, seed: int) -> tuple[list[str], list[list[int]]]:
    """``n`` prompts (originals and planted variants, shuffled) and the planted groups."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    n_orig = int(round(n / 1.11))
    lengths = rng.integers(8, 41, size=n_orig)
    ids = rng.integers(0, len(vocab), size=int(lengths.sum()))
    originals, pos = [], 0
    for k in lengths:
        words = [vocab[j] for j in ids[pos:pos + k]]
        pos += k
        originals.append(" ".join(words).capitalize() + rng.choice([".", "?", "!"]))
    texts = list(originals)
    groups: dict[int, list[int]] = {}
    while len(texts) < n:
        o = int(rng.integers(0, n_orig))
        texts.append(variant(originals[o], vocab, rng))
        groups.setdefault(o, [o]).append(len(texts) - 1)
    order = rng.permutation(len(texts))
    where = np.empty(len(texts), dtype=np.int64)
    where[order] = np.arange(len(texts))
    shuffled = [texts[i] for i in order]
    return shuffled, [sorted(int(where[i]) for i in g) for g in groups.values()]


def pair_set(groups: list[list[int]] | list[tuple[int, ...]]) -> set[tuple[int, int]]:
    return {(a, b) for g in groups for a, b in combinations(sorted(g), 2)}


def scored(texts: list[str], groups: list[list[int]], cfg: DedupConfig) -> dict:
    t = time.perf_counter()
    result = find_duplicates(texts, cfg)
    seconds = time.perf_counter() - t
    truth = pair_set(groups)
    found = pair_set([c.members for c in result.clusters])
    hit = len(truth & found)
    return {"prompts": len(texts), "seconds": round(seconds, 3),
            "prompts_per_s": round(len(texts) / seconds),
            "planted_pairs": len(truth), "found_pairs": len(found),
            "recall": round(hit / len(truth), 4) if truth else None,
            "precision": round(hit / len(found), 4) if found else None,
            "candidates": result.candidates,
            "timings": {k: round(v, 3) for k, v in result.timings.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--subset", type=int, default=5_000)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = DedupConfig(threshold=args.threshold)
    find_duplicates(["warm up the code paths", "warm up the code path"], cfg)

    small = scored(*generate(args.small, args.seed), cfg)
    large = scored(*generate(args.n, args.seed + 1), cfg)
    ratio = large["seconds"] / small["seconds"]

    texts, _ = generate(args.subset, args.seed + 2)
    t = time.perf_counter()
    exact = all_pairs_jaccard(texts, args.threshold)
    exact_s = time.perf_counter() - t
    t = time.perf_counter()
    lsh = find_duplicates(texts, cfg)
    lsh_s = time.perf_counter() - t
    truth = {(p.a, p.b) for p in exact}
    found = pair_set([c.members for c in lsh.clusters])  # every pair put in one cluster
    versus = {"prompts": len(texts), "exact_pairs": len(truth),
              "exact_seconds": round(exact_s, 3), "lsh_seconds": round(lsh_s, 3),
              "time_ratio_exact_over_lsh": round(exact_s / lsh_s, 2),
              "lsh_recall": round(len(truth & found) / len(truth), 4) if truth else None,
              "lsh_precision": round(len(truth & found) / len(found), 4) if found else None,
              "cluster_pairs": len(found)}
    out = {"config": cfg.method, "small": small, "large": large,
           "scale_ratio_time_100k_over_10k": round(ratio, 2), "scale_target": 15,
           "versus_exact": versus}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name, r in (("10k", small), ("100k", large)):
        print(f"{name:>5}: {r['prompts']:,} prompts in {r['seconds']:.2f} s "
              f"({r['prompts_per_s']:,}/s); planted pairs {r['planted_pairs']:,}: "
              f"recall {r['recall']:.4f}, precision {r['precision']:.4f}; "
              f"{r['candidates']:,} LSH candidates; {r['timings']}")
    print(f"scale: time({args.n:,}) / time({args.small:,}) = {ratio:.2f} (target <= 15: "
          f"{'met' if ratio <= 15 else 'MISSED'})")
    print(f"exact all-pairs Jaccard on {versus['prompts']:,} prompts: {exact_s:.2f} s, "
          f"{versus['exact_pairs']:,} pairs >= {args.threshold:g}; MinHash/LSH {lsh_s:.2f} s "
          f"(exact / LSH = {versus['time_ratio_exact_over_lsh']}x), recall "
          f"{versus['lsh_recall']}, precision {versus['lsh_precision']}")


if __name__ == "__main__":
    main()
