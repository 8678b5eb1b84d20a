"""Provenance: what produced each comparison — judge model and template, both checkpoints'
sampling settings, pool version, evalkit version, timings, token counts and failures (all
aggregated in SQL)."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
from ekdash import data, widgets

ctx = widgets.context("Provenance")
comps = ctx.comparisons
by_id = {c["id"]: c for c in comps}
overview = pd.DataFrame([{k: c[k] for k in ("id", "created_at", "baseline", "candidate",
                                            "pool_version", "evalkit_version", "duration_s",
                                            "n", "invalid", "failed", "win_rate")}
                         for c in reversed(comps)])
st.caption(f"{len(comps)} comparisons in pool {ctx.pool} with judge {ctx.judge}")
widgets.table(overview, "comparisons", height=min(400, 38 + 35 * len(overview)))

cid = widgets.select("Comparison", [c["id"] for c in reversed(comps)], "comparison",
                     format_func=lambda i: widgets.comparison_label(by_id[i]))
p = data.provenance(ctx.url, cid)
if p is None:
    st.info(widgets.COMPARE_HINT)
    st.stop()
rec = p["comparison"]
summary = rec["summary"]


def pretty(raw: str | None) -> str:
    try:
        return json.dumps(json.loads(raw or "null"), indent=2, sort_keys=True)
    except ValueError:
        return raw or ""


facts = pd.DataFrame([
    {"field": "comparison", "value": rec["id"]},
    {"field": "created at", "value": rec["created_at"]},
    {"field": "pool", "value": rec["pool"]},
    {"field": "pool version", "value": rec["pool_version"]},
    {"field": "pool prompts", "value": str(rec["pool_prompts"])},
    {"field": "pool source", "value": str(rec["pool_source"])},
    {"field": "evalkit version", "value": rec["evalkit_version"]},
    {"field": "seed", "value": str(rec["seed"])},
    {"field": "duration (s)", "value": "—" if rec["duration_s"] is None
     else f"{rec['duration_s']:.1f}"},
    {"field": "judge", "value": rec["judge"]},
    {"field": "judge template", "value": str(summary.get("judge_template"))},
    {"field": "both orders", "value": str(summary.get("both_orders"))},
    {"field": "samples per prompt", "value": str(summary.get("samples"))},
])
st.subheader("Run")
widgets.table(facts, "run facts", key="facts")

st.subheader("Timings and tokens")
usage = pd.DataFrame(p["generations"] + [p["judgments"]])
widgets.table(usage, "timings and tokens", key="usage", column_config={
    "avg_latency_s": st.column_config.NumberColumn("avg latency (s)", format="%.3f"),
    "max_latency_s": st.column_config.NumberColumn("max latency (s)", format="%.3f"),
    "avg_length": st.column_config.NumberColumn("avg length (chars)", format="%.0f")})
requests = summary.get("requests") or {}
if requests:
    widgets.table(pd.DataFrame([{"endpoint": k, **v} for k, v in requests.items()]).fillna(0),
                  "requests made by the run", key="requests")

st.subheader("Failures")
left, right = st.columns([1, 2])
with left:
    widgets.table(pd.DataFrame(p["outcomes"]), "outcomes", key="outcomes")
with right:
    if p["errors"]:
        widgets.table(pd.DataFrame(p["errors"]), "most common errors", key="errors")
    else:
        st.success("No failed requests.")

st.subheader("Judge")
if p["judge"] is None:
    st.info("The judge's spec is not in the store.")
else:
    st.caption(f"{p['judge']['name']} — spec (model, endpoint, template, options)")
    st.code(pretty(p["judge"]["spec_json"]), language="json")
    template = p["judge"]["template_text"]
    try:
        parts = json.loads(template) if template else {}
    except ValueError:
        parts = {"template": template}
    if not isinstance(parts, dict):
        parts = {"template": template}
    for name, body in parts.items():
        if body:
            st.caption(f"template: {name}")
            widgets.show_text(body)
    if not any(parts.values()):
        st.caption("No template text (imported verdicts).")

st.subheader("Checkpoints (sampling settings)")
cols = st.columns(2)
for col, side in zip(cols, ("baseline", "candidate"), strict=True):
    with col:
        spec = p["checkpoints"][side]
        st.caption(f"{side}: {rec[side]}")
        if spec is None:
            st.info("Spec not in the store.")
        else:
            st.code(pretty(spec["spec_json"]), language="json")
