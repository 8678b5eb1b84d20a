"""Altair charts (altair ships with Streamlit): forest plots of intervals, heatmaps of pairwise
matrices, and trajectories with error bars. Tooltips and labels are data, never markup."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd


def forest(df: pd.DataFrame, *, label: str, est: str, lo: str, hi: str, title: str,
           x_title: str, ref: float | None = None, color: str | None = None,
           tooltip: list[str] | None = None, pct: bool = False) -> alt.LayerChart:
    """One row per ``label``: the estimate as a point, its interval as a line."""
    fmt = ".1%" if pct else ".0f"
    order = list(df[label])
    y = alt.Y(f"{label}:N", sort=order, title=None)
    scale = alt.Scale(zero=False)
    enc_color = (alt.Color(f"{color}:N", legend=alt.Legend(title=None, orient="bottom"))
                 if color else alt.value("#1f77b4"))
    tips = tooltip or [label, est, lo, hi]
    base = alt.Chart(df).encode(y=y)
    rules = base.mark_rule(strokeWidth=2).encode(
        x=alt.X(f"{lo}:Q", title=x_title, scale=scale, axis=alt.Axis(format=fmt)),
        x2=f"{hi}:Q", color=enc_color, tooltip=tips)
    points = base.mark_point(filled=True, size=70).encode(x=f"{est}:Q", color=enc_color,
                                                          tooltip=tips)
    layers: list[Any] = [rules, points]
    if ref is not None:
        layers.insert(0, alt.Chart(pd.DataFrame({"ref": [ref]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(x="ref:Q"))
    # a step per row: Streamlit fits the whole view (title, axis, legend) into a fixed
    # height, which would squeeze the rows of a long forest plot together
    return alt.layer(*layers).properties(title=title, height=alt.Step(26))


def heatmap(matrix: dict[str, dict[str, float]], order: list[str], *, title: str,
            value_title: str, pct: bool) -> alt.LayerChart:
    """A checkpoint × checkpoint matrix (rows: the checkpoint, columns: its opponent)."""
    rows = [{"checkpoint": a, "opponent": b, "value": v}
            for a, row in matrix.items() for b, v in row.items() if v is not None]
    df = pd.DataFrame(rows, columns=["checkpoint", "opponent", "value"])
    fmt = ".0%" if pct else ",.0f"
    base = alt.Chart(df).encode(
        x=alt.X("opponent:N", sort=order, title="opponent"),
        y=alt.Y("checkpoint:N", sort=order, title="checkpoint"))
    scale = (alt.Scale(domain=[0, 1], scheme="redblue") if pct
             else alt.Scale(scheme="blues"))
    rect = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=scale, title=value_title,
                        legend=alt.Legend(format=fmt)),
        tooltip=["checkpoint", "opponent", alt.Tooltip("value:Q", format=fmt,
                                                       title=value_title)])
    layers: list[Any] = [rect]
    if len(order) <= 15:  # numbers in the cells while they stay readable
        layers.append(base.mark_text(fontSize=11).encode(
            text=alt.Text("value:Q", format=fmt), color=alt.value("black")))
    step = max(12, min(40, 640 // max(1, len(order))))
    return alt.layer(*layers).properties(title=title, width=alt.Step(step),
                                         height=alt.Step(step))


def trajectory(df: pd.DataFrame, *, x: str, est: str, lo: str, hi: str, title: str,
               y_title: str, ref: float | None = None, pct: bool = False) -> alt.LayerChart:
    """A line over the chain's steps with an error bar at each point."""
    fmt = ".0%" if pct else ".0f"
    order = list(df[x])
    data = df.dropna(subset=[est])
    base = alt.Chart(data).encode(x=alt.X(f"{x}:N", sort=order, title=None))
    y = alt.Y(f"{est}:Q", title=y_title, scale=alt.Scale(zero=False),
              axis=alt.Axis(format=fmt))
    layers: list[Any] = [
        base.mark_rule(strokeWidth=2, opacity=0.6).encode(
            y=alt.Y(f"{lo}:Q", title=y_title, scale=alt.Scale(zero=False),
                    axis=alt.Axis(format=fmt)), y2=f"{hi}:Q", tooltip=[x, est, lo, hi]),
        base.mark_line(point=alt.OverlayMarkDef(size=60, filled=True)).encode(
            y=y, tooltip=[x, est, lo, hi]),
    ]
    if ref is not None:
        layers.insert(0, alt.Chart(pd.DataFrame({"ref": [ref]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(y="ref:Q"))
    return alt.layer(*layers).properties(title=title, height=300)
