"""Dashboard load time on a large store: 50 checkpoints, 1,000 prompts, 1,000,000 judgments.

Builds (once; reused while its parameters match) a SQLite store consistent with evalkit's
schema, written in bulk with ``executemany``: one tagged pool, every checkpoint's generations,
~500 comparisons of 1,000 prompts judged in both orders (a chain ckpt00 → ckpt01 → … → ckpt49,
as in multi-round RLHF, plus random other pairs), their per-prompt items and summaries (computed
with evalkit's stats, as `evalkit compare` does). Verdicts follow a Bradley–Terry rule with
ties, position bias (orders that disagree), invalid verdicts and a few failed requests.

Then each dashboard page's first run is timed with Streamlit's AppTest, caches cleared before
every page (the first visit a user makes), and printed with its ratio to the 3 s target:

  page          seconds   ratio to 3 s target

Usage: python bench/dashboard_load.py [--db PATH] [--checkpoints 50] [--prompts 1000]
                                      [--judgments 1000000] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evalkit import __version__, stats
from evalkit.hashing import content_hash
from evalkit.resources import data_dir
from evalkit.store import make_engine

TARGET_S = 3.0
CATEGORIES = ("math", "coding", "law", "politics", "safety", "writing", "reasoning",
              "multilingual", "medicine", "history", "science", "roleplay")
WORDS = ("the answer depends on careful reasoning about each step and we check the result "
         "against the constraints given in the question so that nothing important is missed "
         "first consider the simplest case then generalise with a short argument").split()
PAGES = (("Leaderboard", None), ("Compare", "views/compare.py"),
         ("Samples", "views/samples.py"), ("Trajectory", "views/trajectory.py"),
         ("Provenance", "views/provenance.py"))


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 10**6:06d}"


def build_store(path: Path, n_ckpt: int, n_prompts: int, n_judgments: int,
                seed: int = 0) -> dict[str, int]:
    """Write the store at ``path`` (replacing it); returns row counts."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    make_engine(f"sqlite:///{path}").dispose()  # the real schema
    rng = np.random.default_rng(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    t0 = time.time() - 86400 * 60

    # ---- pool
    prompts, items = [], []
    for i in range(n_prompts):
        cat = CATEGORIES[i % len(CATEGORIES)]
        msgs = [{"role": "user", "content": f"Question {i} about {cat}: "
                 + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(12 + i % 20))}]
        h = content_hash({"messages": msgs})
        prompts.append((h, json.dumps(msgs)))
        tags = {"category": cat, "difficulty": ("easy", "medium", "hard")[i % 3]}
        items.append((1, i, f"p{i:05d}", h, json.dumps(tags, sort_keys=True), None))
    version = content_hash([p[0] for p in prompts], length=16)
    db.execute("INSERT INTO pool (id, name, version, n_prompts, source, created_at) "
               "VALUES (1, 'bench', ?, ?, 'bench', ?)", (version, n_prompts, _ts(t0)))
    db.executemany("INSERT INTO prompt (hash, messages_json) VALUES (?, ?)", prompts)
    db.executemany("INSERT INTO poolitem (pool_id, position, item_id, prompt_hash, tags_json, "
                   "reference) VALUES (?, ?, ?, ?, ?, ?)", items)
    hashes = [p[0] for p in prompts]

    # ---- checkpoints and their generations
    names = [f"ckpt{k:02d}" for k in range(n_ckpt)]
    strength = np.cumsum(rng.normal(0.08, 0.06, n_ckpt))  # later rounds are mostly better
    specs, lengths = {}, {}
    gen_rows = []
    for k, name in enumerate(names):
        spec = {"backend": "openai", "model": name, "base_url": "http://127.0.0.1:8000/v1",
                "sampling": {"temperature": 0.7, "max_tokens": 1024, "seed": 0}}
        specs[name] = content_hash([name, spec])
        db.execute("INSERT INTO checkpoint (spec_hash, name, spec_json, created_at) "
                   "VALUES (?, ?, ?, ?)", (specs[name], name, json.dumps(spec), _ts(t0)))
        n_words = rng.integers(30, 200, n_prompts) + 2 * k
        lengths[name] = np.zeros(n_prompts)
        for i, h in enumerate(hashes):
            key = content_hash([specs[name], h, 0])
            failed = rng.random() < 0.002
            text = None if failed else " ".join(
                WORDS[(i * 7 + j + k) % len(WORDS)] for j in range(int(n_words[i])))
            lengths[name][i] = 0 if failed else len(text)
            gen_rows.append((key, specs[name], h, 0, text,
                             "HTTP 500: upstream model crashed" if failed else None,
                             None if failed else "stop", int(20 + i % 50),
                             None if failed else int(n_words[i] * 1.3),
                             float(rng.gamma(2.0, 0.4)), 1, _ts(t0 + k)))
    db.executemany("INSERT INTO generation (key, checkpoint_spec, prompt_hash, sample, "
                   "response, error, finish_reason, prompt_tokens, completion_tokens, "
                   "latency, attempts, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", gen_rows)
    gen_key = {name: [content_hash([specs[name], h, 0]) for h in hashes] for name in names}
    gen_failed = {r[0] for r in gen_rows if r[5] is not None}
    del gen_rows

    # ---- judge
    judge_spec = content_hash("bench-judge")
    db.execute("INSERT INTO judgespec (spec_hash, name, spec_json, template_text, created_at) "
               "VALUES (?, 'default', ?, ?, ?)",
               (judge_spec, json.dumps({"backend": "openai", "model": "judge-large",
                                        "template": "pairwise", "both_orders": True}),
                json.dumps({"system": "You are a careful judge.",
                            "user": "Compare <reply_a> and <reply_b>; answer [[A]], [[B]] or "
                                    "[[C]] for a tie.", "reference_block": ""}), _ts(t0)))

    # ---- comparisons: the chain first, then random other pairs, until enough judgments
    pairs = [(k, k + 1) for k in range(n_ckpt - 1)]
    seen = {frozenset(p) for p in pairs}
    per_comparison = 2 * n_prompts
    n_comp = math.ceil(n_judgments / per_comparison * 1.02)  # a few items fail, unjudged
    while len(pairs) < n_comp:
        a, b = sorted(rng.choice(n_ckpt, 2, replace=False).tolist())
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            pairs.append((a, b))
    chain = pairs[:n_ckpt - 1]
    others = pairs[n_ckpt - 1:]
    order = []  # interleave: the chain spreads over the whole time range
    step = max(1, len(others) // max(1, len(chain)))
    for k, p in enumerate(chain):
        order.append(p)
        order.extend(others[k * step:(k + 1) * step])
    order.extend(others[len(chain) * step:])
    cat_of = np.array([i % len(CATEGORIES) for i in range(n_prompts)])
    diff_of = np.array([i % 3 for i in range(n_prompts)])
    n_judged = 0
    for c_idx, (a, b) in enumerate(order):
        if n_judged >= n_judgments:
            break
        base, cand = names[a], names[b]
        cid = content_hash(["bench-comparison", c_idx], length=16)
        created = t0 + 3600 * (c_idx + 1)
        p_cand = 1 / (1 + np.exp(-(strength[b] - strength[a])))
        truth = np.where(rng.random(n_prompts) < 0.12, 0.5,
                         (rng.random(n_prompts) < p_cand).astype(float))
        bias = rng.random(n_prompts) < 0.08        # judge says "A" in both orders
        invalid = rng.random(n_prompts) < 0.02
        jfail = rng.random(n_prompts) < 0.003
        j_rows, ci_rows = [], []
        scores = np.full(n_prompts, np.nan)
        outcomes = []
        for i, h in enumerate(hashes):
            gb, gc = gen_key[base][i], gen_key[cand][i]
            if gb in gen_failed or gc in gen_failed:
                ci_rows.append((cid, i, 0, f"p{i:05d}", h, gb, gc, None, None, "failed", 0,
                                None))
                outcomes.append("failed")
                continue
            t = truth[i]
            keys = []
            signed = []
            for cand_first in (True, False):
                first, second = (gc, gb) if cand_first else (gb, gc)
                key = content_hash([judge_spec, h, first, second])
                keys.append(key)
                if jfail[i] and cand_first:
                    verdict, error = None, "HTTP 502: judge endpoint unavailable"
                elif invalid[i] and not cand_first:
                    verdict, error = "invalid", None
                elif bias[i]:
                    verdict, error = "A", None
                elif t == 0.5:
                    verdict, error = "tie", None
                else:
                    cand_wins = t == 1.0
                    verdict, error = ("A" if cand_wins == cand_first else "B"), None
                raw = (None if error else
                       f"Both answers address the question; weighing accuracy and clarity, "
                       f"my verdict is [[{'C' if verdict == 'tie' else verdict}]]"
                       if verdict != "invalid" else "I cannot decide between them.")
                j_rows.append((key, judge_spec, h, first, second, verdict,
                               1 if verdict in ("A", "B") else 0, None, raw, error, 0,
                               float(rng.gamma(2.0, 0.5)), 600, 40, None, _ts(created)))
                if verdict is None:
                    signed.append("failed")
                elif verdict == "invalid":
                    signed.append(None)
                elif verdict == "tie":
                    signed.append(0)
                else:
                    signed.append(1 if (verdict == "A") == cand_first else -1)
            if "failed" in signed:
                outcome, score = "failed", None
            elif None in signed:
                outcome, score = "invalid", None
            elif all(s > 0 for s in signed):
                outcome, score = "win", 1.0
            elif all(s < 0 for s in signed):
                outcome, score = "loss", 0.0
            else:
                outcome, score = "tie", 0.5
            scores[i] = np.nan if score is None else score
            outcomes.append(outcome)
            ci_rows.append((cid, i, 0, f"p{i:05d}", h, gb, gc, keys[0], keys[1], outcome,
                            1 if outcome in ("win", "loss") else 0, score))
        db.executemany("INSERT INTO judgment (key, judge_spec, prompt_hash, gen_first, "
                       "gen_second, verdict, strength, preference, raw_output, error, "
                       "reasked, latency, prompt_tokens, completion_tokens, meta_json, "
                       "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", j_rows)
        n_judged += len(j_rows)
        summary = _summary(cid, version, n_prompts, base, cand, outcomes, scores, cat_of,
                           diff_of, lengths[cand], lengths[base], created - t0)
        db.execute("INSERT INTO comparison (id, created_at, pool_id, baseline, candidate, "
                   "baseline_spec, candidate_spec, judge, judge_spec, evalkit_version, seed, "
                   "summary_json, duration_s) VALUES (?,?,1,?,?,?,?,'default',?,?,0,?,?)",
                   (cid, _ts(created), base, cand, specs[base], specs[cand], judge_spec,
                    __version__, json.dumps(summary), summary["duration_s"]))
        db.executemany("INSERT INTO comparisonitem (comparison_id, position, sample, item_id, "
                       "prompt_hash, gen_baseline, gen_candidate, judgment_cand_first, "
                       "judgment_base_first, outcome, strength, score) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", ci_rows)
        if c_idx % 50 == 49:
            db.commit()
    db.commit()
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("checkpoint", "generation", "judgment", "comparison", "comparisonitem")}
    db.close()
    return counts


def _summary(cid, version, n_prompts, base, cand, outcomes, scores, cat_of, diff_of,
             len_c, len_b, offset) -> dict:
    outcomes = np.array(outcomes)

    def block(mask: np.ndarray) -> dict:
        s = scores[mask]
        s = s[~np.isnan(s)]
        summary = stats.win_rate_summary(s, n_boot=1000, seed=0)
        test = stats.paired_test(s) if s.size else None
        return {"n": summary.pop("n"), "wins": int((outcomes[mask] == "win").sum()),
                "ties": int((outcomes[mask] == "tie").sum()),
                "losses": int((outcomes[mask] == "loss").sum()),
                "invalid": int((outcomes[mask] == "invalid").sum()),
                "failed": int((outcomes[mask] == "failed").sum()), **summary,
                "p_value": test["p_value"] if test else None,
                "test": test["method"] if test else None}

    by_tag: dict = {}
    for tag, values, codes in (("category", CATEGORIES, cat_of),
                               ("difficulty", ("easy", "medium", "hard"), diff_of)):
        blocks = {v: block(codes == k) for k, v in enumerate(values)}
        pvals = [b["p_value"] if b["p_value"] is not None else float("nan")
                 for b in blocks.values()]
        for b, adj in zip(blocks.values(), stats.holm(pvals), strict=True):
            b["p_holm"] = None if adj != adj else float(adj)
        by_tag[tag] = dict(sorted(blocks.items()))
    overall = block(np.ones(n_prompts, dtype=bool))
    valid = ~np.isnan(scores)
    lc = stats.length_controlled_win_rate(scores[valid], len_c[valid], len_b[valid],
                                          n_boot=50, seed=0)
    overall["length_controlled"] = {"win_rate": lc["lc_win_rate"], "ci": lc["lc_ci"],
                                    "slope": lc["slope"], "slope_ci": lc["slope_ci"],
                                    "n": lc["n"], "method": "bench"}
    return {"comparison_id": cid, "pool": {"name": "bench", "version": version,
                                           "prompts": n_prompts},
            "baseline": base, "candidate": cand, "judge": "default",
            "judge_template": "pairwise", "samples": 1, "both_orders": True,
            "overall": overall, "by_tag": by_tag,
            "requests": {"baseline": {"cached": n_prompts}, "candidate": {"cached": n_prompts},
                         "judge": {"judged": 2 * n_prompts}},
            "duration_s": round(30 + (offset % 97), 3), "evalkit_version": __version__}


def time_pages(db: Path) -> list[tuple[str, float]]:
    """First run of every page (caches cleared before each), with AppTest."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["EVALKIT_DB"] = str(db)
    app = str(data_dir("dashboard") / "app.py")
    warm = AppTest.from_file(app, default_timeout=120)
    warm.run()  # imports (streamlit, pandas, altair, scipy) are a process cost, not a page's
    out = []
    for title, path in PAGES:
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(app, default_timeout=120)
        if path is not None:
            at.run()  # land on the default page once, as switch_page requires
            st.cache_data.clear()
            st.cache_resource.clear()
            at.switch_page(path)
        started = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - started
        if at.exception:
            raise SystemExit(f"{title} raised: {at.exception[0].value}")
        out.append((title, elapsed))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path,
                    default=Path(tempfile.gettempdir()) / "evalkit-dashboard-bench.db")
    ap.add_argument("--checkpoints", type=int, default=50)
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--judgments", type=int, default=1_000_000)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    meta = args.db.with_suffix(".json")
    params = {"checkpoints": args.checkpoints, "prompts": args.prompts,
              "judgments": args.judgments, "format": 2}
    if (args.rebuild or not args.db.exists() or not meta.exists()
            or json.loads(meta.read_text())["params"] != params):
        started = time.perf_counter()
        counts = build_store(args.db, args.checkpoints, args.prompts, args.judgments)
        meta.write_text(json.dumps({"params": params, "counts": counts}))
        print(f"built {args.db} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    counts = json.loads(meta.read_text())["counts"]
    print("store: " + ", ".join(f"{v:,} {k}s" for k, v in counts.items())
          + f" ({args.db.stat().st_size / 2**20:.0f} MiB)")
    print(f"{'page':<12} {'seconds':>8}   ratio to {TARGET_S:.0f} s target")
    worst = 0.0
    for title, seconds in time_pages(args.db):
        worst = max(worst, seconds / TARGET_S)
        print(f"{title:<12} {seconds:>8.2f}   {seconds / TARGET_S:.2f}")
    print(f"worst ratio {worst:.2f} ({'within' if worst <= 1 else 'OVER'} target)")


if __name__ == "__main__":
    main()
