"""Rewards: what reward models say — the reward distribution per tag of each checkpoint scored
on a pool (``evalkit score``), where a reward model and an LLM judge disagree on one
comparison with both answers side by side (``evalkit rm-vs-judge``), and reward-model accuracy
on human preference pairs (``evalkit rm-eval``). Prompt and answer text is shown as text."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from ekdash import data, reward_data, widgets

HINT = ("No reward-model results yet — run `evalkit score CKPT --pool P --rm NAME`, "
        "`evalkit rm-vs-judge A B --rm NAME --judge J` or `evalkit rm-eval NAME --pairs FILE` "
        "to fill this page.")


def fmt(v: Any, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def ci(c: Any, digits: int = 3) -> str:
    return "—" if not c else f"[{c[0]:.{digits}f}, {c[1]:.{digits}f}]"


def dist_row(label: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    q = b.get("quantiles") or {}
    return {**label, "n": b["n"], "failed": b.get("failed", 0), "mean": b["mean"],
            "ci_low": (b["ci"] or [None, None])[0], "ci_high": (b["ci"] or [None, None])[1],
            "sd": b["sd"], **{k: q.get(k) for k in ("p05", "p25", "p50", "p75", "p95")}}


def distributions(runs: list[dict[str, Any]]) -> None:
    st.header("Reward distribution")
    pools = sorted({r["pool"] for r in runs})
    c1, c2, c3 = st.columns(3)
    pool = widgets.select("Pool", pools, "rpool", container=c1)
    mine = [r for r in runs if r["pool"] == pool]
    rm = widgets.select("Reward model", sorted({r["reward_model"] for r in mine}), "rrm",
                        container=c2)
    latest: dict[str, dict[str, Any]] = {}
    for r in mine:
        if r["reward_model"] == rm:
            latest[r["checkpoint"]] = r  # newest run per checkpoint, first-scored order
    tags = sorted({t for r in latest.values() for t in r["summary"]["by_tag"]})
    tag = widgets.select("Tag", ["(overall)", *tags], "rtag", container=c3,
                         url_default="(overall)")
    rows = []
    for ckpt, r in latest.items():
        s = r["summary"]
        if tag == "(overall)" or tag is None:
            rows.append(dist_row({"checkpoint": ckpt, "group": "overall"}, s["overall"]))
        else:
            for value, b in s["by_tag"].get(tag, {}).items():
                rows.append(dist_row({"checkpoint": ckpt, "group": f"{tag}={value}"}, b))
    if not rows:
        st.info("No score run for this selection.")
        return
    df = pd.DataFrame(rows)
    st.caption(f"raw rewards of {rm} (no activation); mean with a 95% t-interval over "
               "prompts, quantiles over responses; the newest run per checkpoint")
    shown = df.dropna(subset=["mean"])
    if not shown.empty:
        base = alt.Chart(shown).encode(y=alt.Y("group:N", title=None),
                                       color=alt.Color("checkpoint:N",
                                                       legend=alt.Legend(orient="bottom")),
                                       yOffset="checkpoint:N")
        chart = base.mark_rule().encode(x=alt.X("ci_low:Q", title="mean reward (95% CI)"),
                                        x2="ci_high:Q") + base.mark_point(filled=True).encode(
            x="mean:Q", tooltip=["checkpoint", "group", "n", "mean", "ci_low", "ci_high"])
        st.altair_chart(chart.properties(height=alt.Step(14)), use_container_width=True)
    widgets.table(df, "reward distribution", key="rdist")
    with st.expander("Histogram of rewards", expanded=False):
        hist = []
        for ckpt, r in latest.items():
            hist += [{"checkpoint": ckpt, "reward": x["score"]}
                     for x in reward_data.run_scores(ctx.url, r["id"])]
        if hist:
            st.altair_chart(alt.Chart(pd.DataFrame(hist)).mark_bar(opacity=0.6).encode(
                x=alt.X("reward:Q", bin=alt.Bin(maxbins=40)), y="count()",
                color="checkpoint:N"), use_container_width=True)


def disagreements(reports: list[dict[str, Any]]) -> None:
    st.header("Reward model vs judge")
    by_id = {r["id"]: r for r in reversed(reports)}
    rid = widgets.select("Report", list(by_id), "rreport", format_func=lambda i: (
        f"{by_id[i]['candidate']} vs {by_id[i]['baseline']} · {by_id[i]['reward_model']} vs "
        f"{by_id[i]['judge']} · {by_id[i]['pool']} · {by_id[i]['created_at'][:16]} · {i[:8]}"))
    s = by_id[rid]["summary"]
    a, d = s["agreement"], s["decisive_agreement"]
    cols = st.columns(5)
    cols[0].metric("Prompts", s["n"])
    cols[1].metric("Agreement", widgets.fmt_rate(a["rate"]),
                   help=f"95% CI {widgets.fmt_ci(*(a['ci'] or [None, None]))} "
                        f"({a['k']}/{a['n']}, exact binomial)")
    cols[2].metric("Cohen's kappa", fmt(s["kappa"]), help=f"95% CI {ci(s['kappa_ci'])}")
    cols[3].metric("Decisive agreement", widgets.fmt_rate(d["rate"]),
                   help=f"items neither calls a tie: {d['k']}/{d['n']}")
    cols[4].metric("Opposite verdicts", s["opposite"])
    st.caption(f"agreement CI {widgets.fmt_ci(*(a['ci'] or [None, None]))} · rows: reward "
               "model, columns: judge (the candidate's outcome)")
    widgets.table([{"reward model": r, **cols_} for r, cols_ in s["confusion"].items()],
                  "rm vs judge confusion", key="rconf")
    rows = s["disagreements"]
    if not rows:
        st.info("The reward model and the judge never decide in opposite directions here.")
        return
    st.subheader("Strongest disagreements")
    widgets.table([{"position": x["position"], "item_id": x["item_id"],
                    "reward model": x["rm_outcome"], "judge": x["judge_outcome"],
                    "Δ reward (cand − base)": x["delta"], "Δ in sd": x["delta_sd_units"],
                    "judge strength": x["judge_strength"]} for x in rows],
                  "rm vs judge disagreements", key="rdis")
    keys = [f"{x['position']}:{x['sample']}" for x in rows]
    item = widgets.select("Disagreement", keys, "ritem", format_func=lambda k: next(
        f"#{x['position']} {x['item_id']} — RM {x['rm_outcome']}, judge {x['judge_outcome']}"
        for x in rows if f"{x['position']}:{x['sample']}" == k))
    x = next(x for x in rows if f"{x['position']}:{x['sample']}" == item)
    for m in x.get("prompt") or []:
        st.caption(str(m.get("role", "?")))
        widgets.show_text(m.get("content"))
    left, right = st.columns(2)
    with left:
        st.caption(f"baseline {by_id[rid]['baseline']}")
        widgets.show_text(x.get("baseline_response"))
    with right:
        st.caption(f"candidate {by_id[rid]['candidate']} · reward Δ {fmt(x['delta'])} · "
                   f"reward model: {x['rm_outcome']}, judge: {x['judge_outcome']}")
        widgets.show_text(x.get("candidate_response"))


def evaluations(evals: list[dict[str, Any]]) -> None:
    st.header("Reward model accuracy on preference pairs")
    widgets.table([{"reward model": e["reward_model"], "pairs": e["pairs"], "n": e["n"],
                    "accuracy": e["accuracy"],
                    "95% CI": ci(e["summary"]["overall"]["ci"]), "created": e["created_at"],
                    "id": e["id"]} for e in reversed(evals)], "rm-eval runs", key="revals")
    by_id = {e["id"]: e for e in reversed(evals)}
    eid = widgets.select("Evaluation", list(by_id), "reval", format_func=lambda i: (
        f"{by_id[i]['reward_model']} · {by_id[i]['n']} pairs · {by_id[i]['created_at']}"))
    s = by_id[eid]["summary"]
    widgets.table([{"subset": name, "n": b["n"], "correct": b["correct"], "ties": b["ties"],
                    "failed": b["failed"], "accuracy": b["accuracy"], "95% CI": ci(b["ci"]),
                    "mean margin": b["mean_margin"]}
                   for name, b in [("overall", s["overall"]), *s["subsets"].items()]],
                  "rm-eval subsets", key="rsubsets")
    st.caption(f"{s['rule']} · CI: {s['ci_method']}")


st.title("Rewards")
ctx = st.session_state.get("_ek_ctx")
if ctx is None or ctx.url is None:
    st.info(ctx.problem if ctx is not None and ctx.problem else HINT)
    st.stop()
path = data.sqlite_file(ctx.url)
if (path is not None and not path.exists()) or not data.store_ready(ctx.url):
    st.info(HINT)
    st.stop()
runs = reward_data.score_runs(ctx.url)
reports = reward_data.reports(ctx.url)
evals = reward_data.rm_evals(ctx.url)
if not (runs or reports or evals):
    st.info(HINT)
    st.stop()
if runs:
    distributions(runs)
if reports:
    disagreements(reports)
if evals:
    evaluations(evals)
