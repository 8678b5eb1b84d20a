"""Grades: single-answer grading (``evalkit grade``) — each checkpoint's mean score per tag
with prompt-clustered CIs, and the paired score difference between two checkpoints."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from ekdash import data, judging_data, widgets

HINT = "No grades yet — run `evalkit grade CKPT --pool P --grader NAME` to fill this page."


def row(label: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    ci = b.get("ci") or [None, None]
    return {**label, "n": b["n"], "mean": b["mean"], "ci_low": ci[0], "ci_high": ci[1],
            "sd": b.get("sd"), "invalid": b["invalid"], "failed": b["failed"]}


st.title("Grades")
ctx = st.session_state.get("_ek_ctx")
if ctx is None or ctx.url is None:
    st.info(ctx.problem if ctx is not None and ctx.problem else HINT)
    st.stop()
path = data.sqlite_file(ctx.url)
if (path is not None and not path.exists()) or not data.store_ready(ctx.url):
    st.info(HINT)
    st.stop()
runs = judging_data.grade_runs(ctx.url)
if not runs:
    st.info(HINT)
    st.stop()
c1, c2, c3 = st.columns(3)
pool = widgets.select("Pool", sorted({r["pool"] for r in runs}), "gpool", container=c1)
mine = [r for r in runs if r["pool"] == pool]
grader = widgets.select("Grader", sorted({r["grader"] for r in mine}), "ggrader",
                        container=c2)
latest: dict[str, dict[str, Any]] = {}
for r in mine:
    if r["grader"] == grader:
        latest[r["checkpoint"]] = r  # the newest run per checkpoint
tags = sorted({t for r in latest.values() for t in r["summary"]["by_tag"]})
tag = widgets.select("Tag", ["(overall)", *tags], "gtag", container=c3, url_default="(overall)")
rows = []
for ckpt, r in latest.items():
    s = r["summary"]
    if tag in (None, "(overall)"):
        rows.append(row({"checkpoint": ckpt, "group": "overall"}, s["overall"]))
    else:
        for value, b in s["by_tag"].get(tag, {}).items():
            rows.append(row({"checkpoint": ckpt, "group": f"{tag}={value}"}, b))
scale = next(iter(latest.values()))["summary"]["scale"]
st.caption(f"scale {scale[0]:g}–{scale[1]:g}; mean of per-prompt mean scores with a 95% "
           "t-interval over prompts; invalid (unreadable after one re-ask) and failed "
           "excluded, never coerced; the newest run per checkpoint")
df = pd.DataFrame(rows)
shown = df.dropna(subset=["ci_low"])
if not shown.empty:
    base = alt.Chart(shown).encode(y=alt.Y("group:N", title=None),
                                   color=alt.Color("checkpoint:N",
                                                   legend=alt.Legend(orient="bottom")),
                                   yOffset="checkpoint:N")
    chart = base.mark_rule().encode(x=alt.X("ci_low:Q", title="mean score (95% CI)",
                                            scale=alt.Scale(zero=False)),
                                    x2="ci_high:Q") + base.mark_point(filled=True).encode(
        x="mean:Q", tooltip=["checkpoint", "group", "n", "mean", "ci_low", "ci_high"])
    st.altair_chart(chart.properties(height=alt.Step(14)), use_container_width=True)
widgets.table(df, "grades", key="gtable")

if len(latest) >= 2:
    st.header("Paired difference")
    names = list(latest)
    d1, d2 = st.columns(2)
    a = widgets.select("Baseline", names, "gbase", container=d1)
    b = widgets.select("Candidate", [n for n in names if n != a], "gcand", container=d2)
    diff = judging_data.grade_difference(ctx.url, pool, grader, a, b)
    if "error" in diff:
        st.info(diff["error"])
    else:
        o = diff["overall"]
        cols = st.columns(3)
        cols[0].metric("Prompts graded for both", o["n"])
        cols[1].metric(f"{b} − {a}", widgets.fmt_ci(*(o["ci"] or [None, None]), pct=False)
                       if o["delta"] is None else f"{o['delta']:+.3f}",
                       help=f"95% CI {o['ci']} ({o['ci_method']})")
        cols[2].metric("p", widgets.fmt_p(o["p_value"]), help=o["test"])
        widgets.table([{"group": f"{t}={v}", "n": x["n"], "delta": x["delta"],
                        "ci_low": (x["ci"] or [None, None])[0],
                        "ci_high": (x["ci"] or [None, None])[1], "p": x["p_value"]}
                       for t, values in diff["by_tag"].items() for v, x in values.items()],
                      "grade differences", key="gdiff")
