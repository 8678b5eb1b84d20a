"""Benchmarks: lm-eval suites run with ``evalkit bench`` — checkpoints × tasks with CIs, the
paired difference between two checkpoints (document bootstrap CI, exact McNemar, Holm), the
documents that flipped, and the transfer check against the pairwise win rate on a pool."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from ekdash import bench_data, charts, data, widgets

HINT = ("No benchmark runs yet — run `evalkit bench CHECKPOINT --suite offline` (or your own "
        "suite) to fill this page.")

st.title("Benchmarks")
ctx = st.session_state.get("_ek_ctx")
url = getattr(ctx, "url", None)
path = data.sqlite_file(url) if url else None
if url is None or (path is not None and not path.exists()):
    st.info(ctx.problem if ctx is not None and ctx.problem else HINT)
    st.stop()
suites = bench_data.suites(url)
if not suites:
    st.info(HINT)
    st.stop()
suite = widgets.select("Suite", suites, "suite")
rows = bench_data.overview(url, suite)
checkpoints = bench_data.order(url, suite)

st.subheader("Checkpoints × tasks")
st.caption("The primary metric of each task's latest run, with lm-eval's standard error "
           "(95% CI = value ± 1.96 SE).")
cells = pd.DataFrame(rows)
grid = cells.assign(cell=[
    "—" if r["value"] is None else
    f"{r['value']:.3f}" + ("" if r["ci_low"] is None else
                           f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
    for r in rows]).pivot(index="checkpoint", columns="task", values="cell")
grid = grid.reindex([c for c in checkpoints if c in grid.index]).reset_index()
widgets.table(grid, "benchmark grid")
with st.expander("Every run (long format)"):
    widgets.table(cells, "benchmark runs")
tasks = sorted({r["task"] for r in rows})
if tasks:
    task_pick = widgets.select("Task", tasks, "btask")
    one = cells[cells["task"] == task_pick].dropna(subset=["value", "ci_low"])
    if not one.empty:
        st.altair_chart(charts.forest(one, label="checkpoint", est="value", lo="ci_low",
                                      hi="ci_high", title=f"{task_pick}: {one['metric'].iloc[0]}"
                                      " (95% CI)", x_title="metric", pct=True))

st.subheader("Paired difference")
if len(checkpoints) < 2:
    st.info("Run the suite on a second checkpoint to compare two of them.")
else:
    left, right = st.columns(2)
    baseline = widgets.select("Baseline (A)", checkpoints, "bbase", default=checkpoints[-2],
                              container=left)
    others = [c for c in checkpoints if c != baseline]
    candidate = widgets.select("Candidate (B)", others, "bcand", default=others[-1],
                               container=right)
    result = bench_data.compare(url, suite, baseline, candidate)
    if "error" in result:
        st.info(result["error"])
    else:
        st.caption(f"B − A on the documents both answered; {result['ci_method']}, "
                   f"{result['n_boot']:,} resamples; exact McNemar for 0/1 metrics; Holm "
                   "across tasks.")
        deltas = pd.DataFrame([{
            "task": t["task"], "metric": t["metric"], "n": t["n"], "A": t["mean_a"],
            "B": t["mean_b"], "delta": t["delta"],
            "ci_low": None if t["ci"] is None else t["ci"][0],
            "ci_high": None if t["ci"] is None else t["ci"][1], "p_value": t["p_value"],
            "p_holm": t["p_holm"], "gained": t["gained"], "lost": t["lost"], "test": t["test"]}
            for t in result["tasks"]])
        widgets.table(deltas, "paired deltas")
        plot = deltas.dropna(subset=["delta", "ci_low"])
        if not plot.empty:
            st.altair_chart(charts.forest(plot, label="task", est="delta", lo="ci_low",
                                          hi="ci_high", title="B − A (95% paired CI)",
                                          x_title="difference", ref=0.0, pct=True))
        flipped = [t for t in result["tasks"] if t["flips"]]
        if flipped:
            pick = widgets.select("Flipped documents of task", [t["task"] for t in flipped],
                                  "bflip")
            chosen = next(t for t in flipped if t["task"] == pick)
            widgets.table([{"doc_id": f["doc_id"], "change": f["change"], "target": f["target"],
                            "response_a": f["response_a"], "response_b": f["response_b"],
                            "prompt": f["prompt"]} for f in chosen["flips"]],
                          f"flipped {pick}", key="flipped")

st.subheader("Transfer to the held-out pool")
pools = [p["pool"] for p in data.pools(url) if p["comparisons"]] if data.store_ready(url) else []
if not pools:
    st.info("No pairwise comparisons yet: compare each checkpoint with the previous one "
            "(`evalkit compare PREVIOUS NEXT --pool P`) to see whether benchmark gains "
            "transfer.")
    st.stop()
pool = widgets.select("Pool", pools, "bpool", default=getattr(ctx, "pool", None))
report = bench_data.transfer(url, suite, pool, getattr(ctx, "judge", None))
if "error" in report:
    st.info(report["error"])
    st.stop()
st.caption(f"Chain {' → '.join(report['chain'])}. Rule: {report['rule']}.")
steps = pd.DataFrame([{
    "previous": s["previous"], "checkpoint": s["checkpoint"],
    "win_rate": None if s["pairwise"] is None else s["pairwise"]["win_rate"],
    "win_ci_low": None if s["pairwise"] is None else s["pairwise"]["ci"][0],
    "win_ci_high": None if s["pairwise"] is None else s["pairwise"]["ci"][1],
    "pairwise": None if s["pairwise"] is None else s["pairwise"]["direction"],
    "benchmark_gains": ", ".join(s["gained"]), "benchmark_losses": ", ".join(s["lost"]),
    "flag": s["flag"] or "", "note": s["note"]} for s in report["steps"]])
widgets.table(steps, "transfer")
for s in report["steps"]:
    if s["flag"]:
        st.warning(f"{s['previous']} → {s['checkpoint']}: {s['flag']}")
detail = pd.DataFrame([{"step": f"{s['previous']} → {s['checkpoint']}", "task": t["task"],
                        "delta": t["delta"],
                        "ci_low": None if t["ci"] is None else t["ci"][0],
                        "ci_high": None if t["ci"] is None else t["ci"][1],
                        "p_holm": t["p_holm"]}
                       for s in report["steps"] for t in s["tasks"]])
if not detail.empty:
    widgets.table(detail, "transfer deltas")
