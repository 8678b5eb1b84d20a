"""The leaderboard page's style-control section: ratings with and without style control side
by side (each with its prompt-cluster bootstrap CI) and what the judge pays for length and
markdown (the fitted coefficients with CIs)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from . import charts, judging_data, widgets


def show(url: str, pool: str, judge: str, tag: tuple[str, str] | None) -> None:
    st.header("Style control")
    with st.spinner("Fitting ratings jointly with style covariates…"):
        board = judging_data.style_leaderboard(url, pool, judge, *(tag or (None, None)))
    if "error" in board:
        st.info(board["error"])
        return
    sc = board["style_control"]
    rows = [{"checkpoint": r["checkpoint"], "rating": round(r["rating"], 1),
             "ci_low": round(r["ci"][0], 1), "ci_high": round(r["ci"][1], 1),
             "rank": r["rank"], "style_rating": round(r["style_rating"], 1),
             "style_ci_low": round(r["style_ci"][0], 1),
             "style_ci_high": round(r["style_ci"][1], 1), "style_rank": r["style_rank"],
             "change": round(r["style_rating"] - r["rating"], 1)}
            for r in board["ratings"] if r.get("style_rating") is not None]
    df = pd.DataFrame(rows).sort_values("style_rating", ascending=False)
    st.caption(f"{sc['battles']} battles on {sc['prompts']} prompts; both boards: 95% "
               f"prompt-cluster bootstrap CIs ({sc['rounds']} rounds), rank by CI; "
               "style control fits the ratings jointly with the style coefficients below")
    widgets.table(df, "style-controlled leaderboard", key="style_board")
    long = pd.concat([
        df.assign(board="plain")[["checkpoint", "board", "rating", "ci_low", "ci_high"]],
        df.assign(board="style-controlled").rename(columns={
            "style_rating": "r", "style_ci_low": "lo", "style_ci_high": "hi"})[
            ["checkpoint", "board", "r", "lo", "hi"]].rename(
            columns={"r": "rating", "lo": "ci_low", "hi": "ci_high"})])
    st.altair_chart(charts.forest(long, label="checkpoint", est="rating", lo="ci_low",
                                  hi="ci_high", title="Ratings with and without style control",
                                  x_title="Bradley–Terry rating", ref=1000.0, color="board",
                                  tooltip=["checkpoint", "board", "rating", "ci_low",
                                           "ci_high"]))
    coef = pd.DataFrame([_coef(c) for c in sc["coefficients"]])
    st.subheader("What the judge rewards")
    if coef.empty:
        st.info("No style feature varies in these responses.")
    else:
        widgets.table(coef, "style coefficients", key="style_coef")
    notes = [f"dropped (no variation): {', '.join(sc['dropped'])}"] if sc["dropped"] else []
    st.caption("; ".join([*notes, "coef: log-odds per standard deviation of the feature "
                          "difference; points: the same in rating points", sc["method"]]))


def _coef(c: dict[str, Any]) -> dict[str, Any]:
    return {"feature": c["feature"], "coef": round(c["coef"], 3),
            "ci_low": round(c["ci"][0], 3), "ci_high": round(c["ci"][1], 3),
            "points": round(c["points"], 1), "sd": round(c["sd"], 4)}
