"""Pools: what a stored pool version holds — tag counts with each tag's source (human or
classifier), length distribution, language mix, duplicate rate, topic diversity — how it was
made (annotate, dedup, sample), the prompts the classifier flagged, and which prompts still
separate the checkpoints compared on it (hardness). Prompt text is shown as text."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from ekdash import data, pool_data, widgets

HINT = ("No pools yet — run `evalkit pool import NAME FILE` (or `evalkit compare A B --pool "
        "rlhf_prompts`) to fill this page.")


def bars(df: pd.DataFrame, x: str, y: str, title: str, sort: Any = "-x",
         color: str | None = None) -> alt.Chart:
    enc_color = alt.Color(f"{color}:N", legend=alt.Legend(orient="bottom")) if color else \
        alt.value("#1f77b4")
    return alt.Chart(df).mark_bar().encode(
        x=alt.X(f"{x}:Q", title=x), y=alt.Y(f"{y}:N", sort=sort, title=None),
        color=enc_color, tooltip=[y, x]).properties(title=title, height=alt.Step(18))


st.title("Pools")
ctx = st.session_state.get("_ek_ctx")
if ctx is None or ctx.url is None:
    st.info(ctx.problem if ctx is not None and ctx.problem else HINT)
    st.stop()
path = data.sqlite_file(ctx.url)
if (path is not None and not path.exists()) or not data.store_ready(ctx.url):
    st.info(HINT)
    st.stop()
rows = pool_data.versions(ctx.url)
if not rows:
    st.info(HINT)
    st.stop()
names = sorted({r["name"] for r in rows})
left, right = st.columns(2)
name = widgets.select("Pool", names, "ppool", container=left,
                      default=ctx.pool if ctx.pool in names else None)
mine = [r for r in rows if r["name"] == name][::-1]  # newest first
by_version = {r["version"]: r for r in mine}
version = widgets.select(
    "Version", list(by_version), "pversion", container=right,
    format_func=lambda v: f"{v} · {by_version[v]['prompts']} prompts · "
                          f"{by_version[v]['operation']} · {by_version[v]['created_at']}")
assert version is not None
row = by_version[version]
st.caption(f"{name}@{version}: {row['prompts']} prompts; source: {row['source'] or '—'}")

steps = pool_data.lineage(ctx.url, row["id"])
if steps:
    with st.expander(f"How this version was made ({len(steps)} step"
                     f"{'s' if len(steps) > 1 else ''})", expanded=False):
        widgets.table([{"step": s["operation"], "from": s["from"], "at": s["created_at"],
                        "parameters": ", ".join(f"{k}={v}" for k, v in
                                                sorted(s["params"].items()))}
                       for s in steps], "pool provenance")

s = pool_data.stats(ctx.url, row["id"])
dv = s["diversity"]
cols = st.columns(5)
cols[0].metric("Prompts", f"{s['prompts']:,}")
cols[1].metric("Duplicate rate", f"{s['duplicates']['rate']:.1%}",
               help=f"{s['duplicates']['exact']} exact, {s['duplicates']['near']} near "
                    f"duplicates in {s['duplicates']['clusters']} clusters; "
                    f"{s['duplicates']['method']}")
cols[2].metric("Topic entropy", "—" if not dv.get("tag") else f"{dv['entropy_bits']:.2f} bits",
               help="Shannon entropy of the topic distribution (tag "
                    f"{dv.get('tag') or 'none'}); normalised "
                    f"{dv.get('normalized_entropy')}")
cols[3].metric("Effective topics", "—" if not dv.get("tag") else f"{dv['effective_topics']}",
               help="2 ** entropy: the number of equally common topics with the same "
                    "entropy")
cols[4].metric("Multi-turn", f"{s['multi_turn']:,}")

tags = s["tags"]
if tags:
    st.subheader("Tags")
    tag_names = list(tags)
    default = dv.get("tag") if dv.get("tag") in tag_names else tag_names[0]
    tag = widgets.select("Tag", tag_names, "ptag", default=default,
                         format_func=lambda t: f"{t} ({tags[t]['source']})")
    assert tag is not None
    info = tags[tag]
    df = pd.DataFrame([{"value": v, "prompts": n} for v, n in info["values"].items()])
    st.caption(f"{tag}: {len(df)} values from the {info['source']}"
               + (f"; {info['missing']} prompts untagged" if info["missing"] else "")
               + f"; entropy {info['entropy_bits']:.3f} bits")
    st.altair_chart(bars(df.head(40), "prompts", "value", f"Prompts per {tag} value"
                         + (" (40 most common)" if len(df) > 40 else "")))
    with st.expander(f"All {len(df)} values of {tag}"):
        widgets.table(df, f"{tag} values", key="tag-values")
    widgets.table(pd.DataFrame([{"tag": t, "source": v["source"], "values": len(v["values"]),
                                 "untagged": v["missing"],
                                 "entropy_bits": v["entropy_bits"]}
                                for t, v in tags.items()]), "tags")

left, right = st.columns(2)
with left:
    length = s["length"]["characters"]
    edges, counts = length["histogram"]["edges"], length["histogram"]["counts"]
    hist = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "prompts": counts})
    hist["length"] = [f"{int(a)}–{int(b)}" for a, b in zip(hist["from"], hist["to"], strict=True)]
    st.altair_chart(alt.Chart(hist).mark_bar().encode(
        x=alt.X("length:N", sort=list(hist["length"]), title="characters (log bins)"),
        y=alt.Y("prompts:Q"), tooltip=["length", "prompts"]).properties(
        title=f"Length: median {length['median']:.0f}, p90 {length['p90']:.0f} characters"))
with right:
    lang = pd.DataFrame([{"language": k, "prompts": v}
                         for k, v in s["languages"]["counts"].items()])
    st.altair_chart(bars(lang, "prompts", "language",
                         f"Languages ({s['languages']['source']})"))

flawed = pool_data.flawed(ctx.url, row["id"])
if flawed:
    with st.expander(f"Prompts the classifier flagged as flawed ({len(flawed)})"):
        widgets.table(flawed, "flawed prompts")

st.subheader("Hardness")
hard = pool_data.hardness(ctx.url, name, version)
if "error" in hard:
    st.info(f"{hard['error']} — hardness needs stored comparisons on this pool.")
    st.stop()
st.caption(f"{hard['measured']} of {hard['pool']['prompts']} prompts judged in "
           f"{len(hard['comparisons'])} stored pairs (judge {hard['judge']}); "
           f"{hard['saturated']} saturated (discrimination <= {hard['saturated_at']:g}); "
           f"{hard['method']}")
prompts = pd.DataFrame(hard["prompts"])
measured = prompts[prompts["measured"]]
left, right = st.columns(2)
with left:
    st.altair_chart(alt.Chart(measured).mark_bar().encode(
        x=alt.X("discrimination:Q", bin=alt.Bin(step=0.1), title="discrimination"),
        y=alt.Y("count():Q", title="prompts")).properties(
        title="Discrimination of the judged prompts"))
with right:
    topics = pd.DataFrame([{"topic": t, **r} for t, r in hard["by_topic"].items()])
    if not topics.empty:
        st.altair_chart(bars(topics.dropna(subset=["mean_discrimination"]),
                             "mean_discrimination", "topic",
                             f"Mean discrimination by {hard['topic_tag']}"))
widgets.table(prompts[["id", "topic", "discrimination", "decisive", "pairs", "saturated",
                       "measured"]], "prompt hardness")
