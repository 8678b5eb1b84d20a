"""Trajectory: a chain of checkpoints where each new one was compared with the previous one
(multi-round RLHF), with each checkpoint's leaderboard rating and its win rate against the
previous checkpoint, both with CIs."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from ekdash import charts, data, widgets

ctx = widgets.context("Trajectory")
chains = data.chains(ctx.comparisons)
ends = sorted(chains, key=lambda name: (len(chains[name]), chains[name][-1]["created_at"]),
              reverse=True)
if not ends:
    st.info(widgets.COMPARE_HINT)
    st.stop()
end = widgets.select("Chain ending at", ends, "end",
                     format_func=lambda n: f"{n} ({len(chains[n]) + 1} checkpoints)")
chain = chains[end]
if len(chain) == 1:
    st.info(f"Only one step so far. Compare the next checkpoint with {end} to extend the "
            f"chain: `evalkit compare {end} NEXT --pool {ctx.pool}`.")

board = data.leaderboard(ctx.url, ctx.pool, ctx.judge)
ratings = {r["checkpoint"]: r for r in board.get("ratings", [])}
steps = [chain[0]["baseline"]] + [c["candidate"] for c in chain]
rows = []
for i, name in enumerate(steps):
    r = ratings.get(name)
    c = chain[i - 1] if i else None
    rows.append({
        "step": i, "checkpoint": name,
        "rating": None if r is None else round(r["rating"], 1),
        "rating_ci_low": None if r is None else round(r["ci"][0], 1),
        "rating_ci_high": None if r is None else round(r["ci"][1], 1),
        "previous": None if c is None else c["baseline"],
        "win_rate_vs_previous": None if c is None else c["win_rate"],
        "win_rate_ci_low": None if c is None else c["ci_lo"],
        "win_rate_ci_high": None if c is None else c["ci_hi"],
        "n": None if c is None else c["n"], "p_value": None if c is None else c["p_value"],
        "comparison": None if c is None else c["id"],
        "compared_at": None if c is None else c["created_at"][:19]})
df = pd.DataFrame(rows)
st.caption(" → ".join(steps))
widgets.table(df, "trajectory", column_config={
    "win_rate_vs_previous": st.column_config.NumberColumn("win rate vs previous",
                                                          format="%.3f"),
    "win_rate_ci_low": st.column_config.NumberColumn(format="%.3f"),
    "win_rate_ci_high": st.column_config.NumberColumn(format="%.3f"),
    "p_value": st.column_config.NumberColumn(format="%.4f")})

left, right = st.columns(2)
with left:
    if df["rating"].notna().any():
        st.altair_chart(charts.trajectory(
            df, x="checkpoint", est="rating", lo="rating_ci_low", hi="rating_ci_high",
            title="Leaderboard rating (95% bootstrap CI)", y_title="Bradley–Terry rating"))
    else:
        st.info(board.get("error", "No ratings for these checkpoints yet."))
with right:
    st.altair_chart(charts.trajectory(
        df.iloc[1:], x="checkpoint", est="win_rate_vs_previous", lo="win_rate_ci_low",
        hi="win_rate_ci_high", title="Win rate against the previous checkpoint (95% CI)",
        y_title="win rate vs previous", ref=0.5, pct=True))
