"""Contamination: the stored scans of pools and suites against training corpora — label
counts and rates per task and tag, the win rate on clean prompts beside the full one for a
comparison, and the dirtiest items with their matched spans marked ⟦like this⟧ in plain
text (item and corpus text is never rendered as HTML or Markdown)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st
from ekdash import data, widgets

from evalkit.contamination import report as rp
from evalkit.contamination.matches import highlight
from evalkit.store import contamination_queries as cq

HINT = ("No contamination scans yet — run `evalkit contamination scan --corpus PATH "
        "--pool P` (or `--suite S`) to fill this page.")
PAGE = 20


@st.cache_data(ttl=data.TTL, show_spinner=False)
def scans(url: str) -> list[dict[str, Any]]:
    return [{**r, "created_at": str(r["created_at"])} for r in cq.list_scans(data.engine(url))]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def summary(url: str, scan_id: str) -> dict[str, Any]:
    eng = data.engine(url)
    scan = cq.get_scan(eng, scan_id)
    assert scan is not None
    return rp.scan_summary(scan, cq.get_corpus(eng, scan["corpus_id"]),
                           cq.scan_items(eng, scan_id))


@st.cache_data(ttl=data.TTL, show_spinner=False)
def dirtiest(url: str, scan_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    return cq.dirtiest(data.engine(url), scan_id, limit, offset)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def comparisons(url: str, pool: str, version: str) -> list[dict[str, Any]]:
    return [{**r, "created_at": str(r["created_at"])}
            for r in cq.pool_comparisons(data.engine(url), pool, version)]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def gain(url: str, comparison_id: str, corpus_id: str) -> dict[str, Any]:
    return rp.comparison_gain(data.engine(url), comparison_id, corpus_id, n_boot=2000)


st.title("Contamination")
ctx = st.session_state.get("_ek_ctx")
if ctx is None or ctx.url is None or not data.store_ready(ctx.url):
    st.info(ctx.problem if ctx is not None and ctx.problem else HINT)
    st.stop()
rows = scans(ctx.url)
if not rows:
    st.info(HINT)
    st.stop()
by_id = {r["id"]: r for r in rows}
sid = widgets.select("Scan", list(by_id), "scan", format_func=lambda i: (
    f"{by_id[i]['source_kind']} {by_id[i]['source']} vs {by_id[i]['corpus']} · "
    f"{by_id[i]['n']}-grams · {by_id[i]['created_at'][:16]} · {i[:8]}"))
s = summary(ctx.url, sid)
corpus = s["corpus"]
st.caption(f"corpus {corpus['name']}: {len(corpus['files'])} file(s), {corpus['size']:,} bytes, "
           f"{s['corpus_tokens']:,} tokens, content {corpus['content_hash'][:12]} · "
           f"{s['n']}-gram coverage, {s['hit_n'] or 'no'}-gram any-hit · labels: clean < "
           f"{s['thresholds']['clean_below']:g} ≤ partial < {s['thresholds']['dirty_from']:g} "
           f"≤ dirty · {s['runner']}")
overall = s["rates"]["overall"]
cols = st.columns(6)
for col, (label, value) in zip(cols, (
        ("Items", overall["n"]), ("Clean", overall["clean"]), ("Partial", overall["partial"]),
        ("Dirty", overall["dirty"]), ("Not clean", widgets.fmt_rate(overall["rate"])),
        (f"{s['hit_n']}-gram hit" if s["hit_n"] else "Hit",
         widgets.fmt_rate(overall["hit_rate"]))), strict=True):
    col.metric(label, value)
if s["problems"]:
    st.warning(f"{len(s['problems'])} bad input(s) skipped while scanning")
    widgets.show_text("\n".join(s["problems"]))

groups = [{"group": "all", **overall}]
groups += [{"group": f"task={t}", **r} for t, r in s["rates"]["by_task"].items()]
groups += [{"group": f"{k}={v}", **r} for k, vals in s["rates"]["by_tag"].items()
           for v, r in vals.items()]
st.subheader("Rates")
widgets.table(pd.DataFrame(groups)[["group", "n", "clean", "partial", "dirty", "short", "rate",
                                    "dirty_rate", "hit_rate"]], "contamination rates",
              key="rates", column_config={
                  "rate": st.column_config.NumberColumn("not clean", format="percent"),
                  "dirty_rate": st.column_config.NumberColumn("dirty", format="percent"),
                  "hit_rate": st.column_config.NumberColumn("hit", format="percent")})

if s["source"]["kind"] == "pool":
    comps = comparisons(ctx.url, s["source"]["name"], s["source"]["version"])
    if comps:
        st.subheader("Clean vs full")
        cmap = {c["id"]: c for c in comps}
        cid = widgets.select("Comparison", list(cmap), "ccomp", format_func=lambda i: (
            f"{cmap[i]['candidate']} vs {cmap[i]['baseline']} · {cmap[i]['created_at'][:16]} · "
            f"{i[:8]}"))
        g = gain(ctx.url, cid, corpus["id"])
        c1, c2, c3 = st.columns(3)
        c1.metric(f"Win rate, all ({g['n']})", widgets.fmt_rate(g["full"]))
        c2.metric(f"Win rate, clean ({g['n_clean']})", widgets.fmt_rate(g["clean"]))
        c3.metric("Gain (full − clean)", "—" if g["gain"] is None else f"{g['gain']:+.1%}")
        st.caption(f"{int(g['ci_level'] * 100)}% CI of the gain: "
                   f"{widgets.fmt_ci(*g['ci'])} · {g['ci_method']}")

st.subheader("Dirtiest items")
page = widgets.page_number("Page", "cpage", max(1, -(-max(overall["matched"], 1) // PAGE)),
                           reset_on=sid)
items = dirtiest(ctx.url, sid, PAGE, (page - 1) * PAGE)
if not items:
    st.info("No item of this scan matches the corpus.")
    st.stop()
widgets.table(pd.DataFrame([{
    "position": it["position"], "item_id": it["item_id"], "task": it["task"],
    "label": it["label"], "covered": it["fraction"], "longest (tokens)": it["longest"],
    f"{s['hit_n']}-gram hit": it["hit"], "seen in corpus": it["max_count"],
    "tokens": it["n_tokens"]} for it in items]), "dirtiest items", key="dirtiest",
    column_config={"covered": st.column_config.NumberColumn(format="percent")})
imap = {str(it["position"]): it for it in items}
pick = widgets.select("Item", list(imap), "citem", format_func=lambda k: (
    f"{imap[k]['item_id']} — {imap[k]['label']} ({widgets.fmt_rate(imap[k]['fraction'])})"))
it = imap[pick]
st.caption(f"matched spans marked ⟦…⟧ · longest {it['longest']} tokens · its most frequent "
           f"matched n-gram occurs {it['max_count']} time(s) in the corpus")
widgets.show_text(highlight(it["text"] or "", json.loads(it["spans_json"])))
