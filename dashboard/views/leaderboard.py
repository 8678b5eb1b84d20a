"""Leaderboard: Bradley–Terry ratings with bootstrap CIs per pool and judge, optionally on the
prompts of one tag value; forest plot, pairwise win-fraction and battle-count heatmaps."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from ekdash import charts, data, widgets

ctx = widgets.context("Leaderboard")
tags = data.tag_options(ctx.url, ctx.pool)
tag_choices = ["all"] + [f"{name}={value}" for name, value, _ in tags]
prompts = {f"{name}={value}": n for name, value, n in tags}
left, right = st.columns(2)
choice = widgets.select("Tag filter", tag_choices, "tag", container=left, url_default="all",
                        format_func=lambda t: "all prompts" if t == "all"
                        else f"{t} ({prompts[t]} prompts)")
sort = widgets.select("Sort by", ["rank", "rating", "n", "avg_length", "checkpoint"], "sort",
                      container=right, url_default="rank")

with st.spinner("Fitting Bradley–Terry ratings…"):
    if choice in (None, "all"):
        board = data.leaderboard(ctx.url, ctx.pool, ctx.judge)
    else:
        tag, value = choice.split("=", 1)
        board = data.tag_leaderboard(ctx.url, ctx.pool, ctx.judge, tag, value)
if "error" in board:
    st.info(f"{board['error']} — run `evalkit compare A B --pool {ctx.pool}` to add results.")
    st.stop()

components = board.get("components", [])
split = len(components) > 1
df = pd.DataFrame([{**({"component": r["component"]} if split else {}),
                    "rank": r["rank"], "checkpoint": r["checkpoint"],
                    "rating": round(r["rating"], 1), "ci_low": round(r["ci"][0], 1),
                    "ci_high": round(r["ci"][1], 1), "n": int(r["n"]),
                    "ties": round(r["ties"], 1),
                    "avg_length": None if r["avg_length"] is None else round(r["avg_length"]),
                    **({} if r.get("mle", True) else {"note": "no finite MLE: prior"})}
                   for r in board["ratings"]])
descending = {"rating": True, "n": True, "avg_length": True}
keys = ["component"] if split else []
df = df.sort_values([*keys, sort or "rank", "rank"],
                    ascending=[True] * len(keys) + [not descending.get(sort, False), True],
                    kind="stable")
st.caption(f"Pool {ctx.pool} · judge {ctx.judge} · {len(df)} checkpoints · "
           f"{len(board['pairs'])} compared pairs"
           + ("" if choice in (None, "all") else f" · prompts with {choice}"))
if split:
    st.warning(f"The comparison graph has {len(components)} unconnected components — no "
               "comparison links them, so ratings and ranks compare only within a component: "
               + "; ".join(f"component {c['component']}: {', '.join(c['checkpoints'])}"
                           for c in components) + ".")
for note in board.get("notes", []):
    if "no finite MLE" in note:
        st.info(note)
widgets.table(df, "leaderboard", column_config={
    "component": st.column_config.NumberColumn("component", help="connected component of "
                                               "the comparison graph; ratings compare only "
                                               "within one"),
    "rating": st.column_config.NumberColumn("rating", help=board["scale"], format="%.1f"),
    "ci_low": st.column_config.NumberColumn("95% CI low", format="%.1f"),
    "ci_high": st.column_config.NumberColumn("95% CI high", format="%.1f"),
    "rank": st.column_config.NumberColumn("rank (by CI)", help="1 + number of checkpoints "
                                          "(in the same component) whose CI lies entirely "
                                          "above"),
    "n": st.column_config.NumberColumn("n (battles)"),
    "avg_length": st.column_config.NumberColumn("avg length (chars, all prompts)")})
first = [r for r in board["ratings"] if r["rank"] == 1]
st.caption("Ranked first: " + ", ".join(
    (f"component {r['component']}: " if split else "")
    + f"{r['checkpoint']} ({r['rating']:.0f}, 95% CI {r['ci'][0]:.0f}–{r['ci'][1]:.0f})"
    for r in first) + ". " + board["method"] + ". " + board["scale"] + ".")

order = list(df.sort_values([*keys, "rating"], ascending=[True] * len(keys) + [False])[
    "checkpoint"])
forest_df = df.set_index("checkpoint").loc[order].reset_index()
if split:
    forest_df = forest_df.assign(component=forest_df["component"].map(lambda c: f"component {c}"))
st.altair_chart(charts.forest(forest_df, label="checkpoint", est="rating", lo="ci_low",
                              hi="ci_high", title="Ratings with 95% prompt-cluster bootstrap "
                              "CIs", x_title="Bradley–Terry rating", ref=1000.0,
                              color="component" if split else None,
                              tooltip=["checkpoint", "rating", "ci_low", "ci_high", "n"]))
left, right = st.columns(2)
with left:
    st.altair_chart(charts.heatmap(board["win_matrix"], order, pct=True,
                                   title="Win fraction of the row against the column",
                                   value_title="win fraction"))
with right:
    st.altair_chart(charts.heatmap(board["battles"], order, pct=False,
                                   title="Battles (valid judged prompts) per pair",
                                   value_title="battles"))

pairs = pd.DataFrame([{"comparison": p["comparison_id"], "baseline": p["baseline"],
                       "candidate": p["candidate"], "n": p["n"],
                       "baseline_wins": p["baseline_wins"], "ties": p["ties"],
                       "candidate_wins": p["candidate_wins"], "invalid": p["invalid"],
                       "failed": p["failed"]} for p in board["pairs"]])
with st.expander(f"Pairs behind the ratings ({len(pairs)} comparisons, latest per pair)"):
    widgets.table(pairs, "leaderboard pairs")

if widgets.checkbox("Style control: refit with length and markdown as covariates", "style"):
    from ekdash import style_section

    style_section.show(ctx.url, ctx.pool, ctx.judge,
                       None if choice in (None, "all") else tuple(choice.split("=", 1)))
