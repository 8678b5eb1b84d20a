"""Samples: one comparison's prompts, filtered (outcome, flipped under order swap, tag, text)
and paged in SQL; one prompt's two responses side by side with both judge verdicts and the
judge's rationale. All model and judge text is shown as text."""

from __future__ import annotations

import json
import math

import pandas as pd
import streamlit as st
from ekdash import data, widgets

OUTCOMES = ["win", "loss", "tie", "invalid", "failed"]

ctx = widgets.context("Samples")
comps = ctx.comparisons
by_id = {c["id"]: c for c in comps}
cid = widgets.select("Comparison", [c["id"] for c in reversed(comps)], "comparison",
                     format_func=lambda i: widgets.comparison_label(by_id[i]))
comp = by_id[cid]
counts = data.facets(ctx.url, cid)

c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
outcomes = widgets.multiselect("Outcome (candidate's view)", OUTCOMES, "outcome",
                               container=c1,
                               format_func=lambda o: f"{o} ({counts.get(o, 0)})")
flipped = widgets.checkbox(f"Flipped under order swap ({counts['flipped']})", "flipped",
                           container=c2)
tags = data.tag_options(ctx.url, ctx.pool)
tag_choices = ["all"] + [f"{name}={value}" for name, value, _ in tags]
tag = widgets.select("Tag", tag_choices, "tag", container=c3, url_default="all")
search = widgets.text_input("Search prompt, responses or id", "q", container=c4,
                            placeholder="text")
tag_pair = tuple(tag.split("=", 1)) if tag and tag != "all" else None
filters = (tuple(outcomes), flipped, tag_pair, search.strip())

c1, c2, _ = st.columns([1, 1, 3])
size = int(widgets.select("Rows per page", ["25", "50", "100"], "size", url_default="25",
                          container=c1) or 25)
_, total = data.samples(ctx.url, cid, *filters, 1, 0)
pages = max(1, math.ceil(total / size))
page = widgets.page_number("Page", "page", pages, reset_on=(cid, filters, size), container=c2)
rows, total = data.samples(ctx.url, cid, *filters, size, (page - 1) * size)
st.caption(f"{comp['candidate']} (candidate) vs {comp['baseline']} (baseline) · "
           f"{total} of {sum(counts[o] for o in OUTCOMES)} prompts match · page {page} of "
           f"{pages}")
if not rows:
    st.info("No prompt matches these filters.")
    st.stop()

table = pd.DataFrame([{
    "position": r["position"], "sample": r["sample"], "item_id": r["item_id"],
    "outcome": r["outcome"], "strength": r["strength"],
    "verdict (candidate first)": r["verdict_candidate_first"],
    "verdict (baseline first)": r["verdict_baseline_first"], "flipped": r["flipped"],
    "tags": ", ".join(f"{k}={v}" for k, v in json.loads(r["tags"] or "{}").items()),
    "prompt": r["prompt"]} for r in rows])
widgets.table(table, "samples page", key="samples")

# ---- one prompt
keys = [f"{r['position']}:{r['sample']}" for r in rows]
labels = {f"{r['position']}:{r['sample']}": f"#{r['position']} {r['item_id']} — {r['outcome']}"
          + (" — flipped" if r["flipped"] else "") for r in rows}
item = widgets.select("Prompt", keys, "item", format_func=lambda k: labels[k])
position, sample = (int(x) for x in item.split(":"))
d = data.detail(ctx.url, cid, position, sample)
if d is None:
    st.info("This prompt is not in the comparison.")
    st.stop()

st.subheader(f"Prompt {d['item_id']}")
st.caption(f"outcome for the candidate: {d['outcome']} (strength {d['strength']}) · "
           + " · ".join(f"{k}={v}" for k, v in d["tags"].items()))
for m in d["messages"]:
    st.caption(m.get("role", "?"))
    widgets.show_text(m.get("content"))
if d.get("reference"):
    st.caption("reference answer")
    widgets.show_text(d["reference"])

left, right = st.columns(2)
for col, side in ((left, "baseline"), (right, "candidate")):
    with col:
        st.markdown(f"**{side.title()}: {widgets.md_escape(d[side])}**")
        g = d["generations"][side]
        if g is None:
            st.warning("No generation stored for this prompt.")
            continue
        if g["error"]:
            st.error("Generation failed")
            widgets.show_text(g["error"])
        else:
            widgets.show_text(g["response"])
        def num(v: object) -> str:
            return "—" if v is None else str(v)

        st.caption(f"finish: {num(g['finish_reason'])} · tokens: {num(g['prompt_tokens'])} "
                   f"prompt / {num(g['completion_tokens'])} completion · latency: "
                   + ("—" if g["latency"] is None else f"{g['latency']:.2f} s"))

st.subheader("Judge verdicts")
if not d["judgments"]:
    st.info("Not judged (a response is missing or failed).")
cols = st.columns(max(1, len(d["judgments"])))
for col, j in zip(cols, d["judgments"], strict=False):
    with col:
        st.markdown(f"**{j['order'].capitalize()}** — verdict `{j['verdict']}` → candidate "
                    f"**{j['candidate_view']}**")
        extra = [f"strength {j['strength']}"]
        if j["preference"] is not None:
            extra.append(f"P(second better) = {j['preference']:.3f}")
        if j["reasked"]:
            extra.append("re-asked")
        st.caption(" · ".join(extra))
        if j["error"]:
            st.error("Judge request failed")
            widgets.show_text(j["error"])
        st.caption("judge's rationale")
        widgets.show_text(j["raw_output"])
