"""Compare A vs B: the candidate's win/tie/loss, win rate with CI, p-value and length-controlled
win rate; per-tag forest plot with Holm-adjusted flags; prompts whose outcome changed since the
previous comparison of the same baseline."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
from ekdash import charts, data, widgets

ctx = widgets.context("Compare A vs B")
comps = ctx.comparisons
by_id = {c["id"]: c for c in comps}
latest = comps[-1]
wanted = by_id.get(st.query_params.get("comparison", ""))
if wanted is not None and "ek_baseline" not in st.session_state:  # a shared link
    st.session_state["ek_keep_baseline"] = wanted["baseline"]
    st.session_state["ek_keep_candidate"] = wanted["candidate"]

left, mid, right = st.columns([1, 1, 2])
baselines = sorted({c["baseline"] for c in comps})
baseline = widgets.select("Baseline", baselines, "baseline", default=latest["baseline"],
                          container=left)
runs_of_baseline = [c for c in comps if c["baseline"] == baseline]
candidates = sorted({c["candidate"] for c in runs_of_baseline})
candidate = widgets.select("Candidate", candidates, "candidate",
                           default=runs_of_baseline[-1]["candidate"], container=mid)
runs = [c for c in reversed(runs_of_baseline) if c["candidate"] == candidate]
cid = widgets.select("Comparison run", [c["id"] for c in runs], "comparison", container=right,
                     format_func=lambda i: widgets.comparison_label(by_id[i]))
rec = data.comparison(ctx.url, cid)
if rec is None:
    st.info(widgets.COMPARE_HINT)
    st.stop()
summary = rec["summary"]
o = summary.get("overall", {})

st.subheader(f"{widgets.md_escape(candidate)} (candidate) vs {widgets.md_escape(baseline)} "
             "(baseline)")
cols = st.columns(6)
for col, (label, key) in zip(cols, (("Wins", "wins"), ("Ties", "ties"), ("Losses", "losses"),
                                    ("Invalid", "invalid"), ("Failed", "failed"),
                                    ("n (valid prompts)", "n")), strict=True):
    col.metric(label, o.get(key, 0))
lc = o.get("length_controlled") or {}
cols = st.columns(3)
cols[0].metric("Win rate", widgets.fmt_rate(o.get("win_rate")),
               help=f"{o.get('ci_method', 'bootstrap')}; ties count 0.5")
cols[0].caption(f"{int(100 * o.get('ci_level', 0.95))}% CI "
                f"{widgets.fmt_ci(*(o.get('ci') or [None, None]))}")
cols[1].metric("p-value", widgets.fmt_p(o.get("p_value")), help=o.get("test") or None)
cols[2].metric("Length-controlled win rate", widgets.fmt_rate(lc.get("win_rate")),
               help=lc.get("method"))
cols[2].caption(f"CI {widgets.fmt_ci(*(lc.get('ci') or [None, None]))}")
overall = pd.DataFrame([{
    "comparison": rec["id"], "baseline": baseline, "candidate": candidate,
    "pool": rec["pool"], "pool_version": rec["pool_version"], "judge": rec["judge"],
    "n": o.get("n"), "wins": o.get("wins"), "ties": o.get("ties"), "losses": o.get("losses"),
    "invalid": o.get("invalid"), "failed": o.get("failed"), "win_rate": o.get("win_rate"),
    "ci_low": (o.get("ci") or [None, None])[0], "ci_high": (o.get("ci") or [None, None])[1],
    "p_value": o.get("p_value"), "lc_win_rate": lc.get("win_rate"),
    "lc_ci_low": (lc.get("ci") or [None, None])[0],
    "lc_ci_high": (lc.get("ci") or [None, None])[1], "created_at": rec["created_at"]}])
with st.expander("Overall numbers"):
    widgets.table(overall, "comparison overall")

# ---- per tag
st.subheader("By tag")
by_tag = summary.get("by_tag") or {}
if not by_tag:
    st.info("This pool's prompts have no tags — import the pool with tags "
            "(`evalkit pool import NAME FILE --tag category`) and compare again.")
else:
    tag = widgets.select("Tag", sorted(by_tag), "bytag",
                         default="category" if "category" in by_tag else None)
    rows = []
    for value, b in by_tag[tag].items():
        ci = b.get("ci") or [None, None]
        p_holm = b.get("p_holm")
        rows.append({"value": value, "n": b.get("n"), "wins": b.get("wins"),
                     "ties": b.get("ties"), "losses": b.get("losses"),
                     "win_rate": b.get("win_rate"), "ci_low": ci[0], "ci_high": ci[1],
                     "p_value": b.get("p_value"), "p_holm": p_holm,
                     "significant": ("yes (Holm p < 0.05)" if p_holm is not None
                                     and p_holm < 0.05 else "no")})
    tag_df = pd.DataFrame(rows)
    plot_df = tag_df.dropna(subset=["win_rate", "ci_low", "ci_high"])
    if len(plot_df):
        st.altair_chart(charts.forest(
            plot_df, label="value", est="win_rate", lo="ci_low", hi="ci_high", pct=True,
            title=f"Candidate win rate by {tag} (95% CI; colour: Holm-adjusted p < 0.05)",
            x_title="win rate", ref=0.5, color="significant",
            tooltip=["value", "n", "win_rate", "ci_low", "ci_high", "p_value", "p_holm"]))
    widgets.table(tag_df, f"win rate by {tag}", key="bytag", column_config={
        "win_rate": st.column_config.NumberColumn(format="%.3f"),
        "ci_low": st.column_config.NumberColumn(format="%.3f"),
        "ci_high": st.column_config.NumberColumn(format="%.3f"),
        "p_value": st.column_config.NumberColumn(format="%.4f"),
        "p_holm": st.column_config.NumberColumn("p (Holm)", format="%.4f")})

# ---- changed outcomes since the previous comparison of this baseline
st.subheader("Prompts that changed outcome")
prev = data.previous(ctx.url, cid)
if prev is None:
    st.info(f"No earlier comparison with baseline {baseline} in this pool and judge — "
            f"after the next one (`evalkit compare {baseline} NEW --pool {ctx.pool}`), "
            "the prompts whose outcome changed are listed here.")
else:
    st.caption(f"Against the previous comparison of the same baseline: {prev['candidate']} vs "
               f"{prev['baseline']} ({prev['created_at'][:16]}, {prev['id'][:8]}); prompts "
               "matched by item id and prompt; outcomes are the candidate's.")
    size = 50
    _, total = data.changed(ctx.url, cid, prev["id"], size, 0)
    if total == 0:
        st.success("No prompt changed outcome.")
    else:
        pages = math.ceil(total / size)
        page = widgets.page_number("Page", "cpage", pages, reset_on=(cid, prev["id"])) \
            if pages > 1 else 1
        rows, total = data.changed(ctx.url, cid, prev["id"], size, (page - 1) * size)
        st.caption(f"{total} prompts changed outcome; showing {len(rows)} "
                   f"(page {page} of {pages}).")
        widgets.table(pd.DataFrame(rows).rename(columns={
            "previous_outcome": f"before: {prev['candidate']} vs {baseline}",
            "outcome": f"now: {candidate} vs {baseline}"}), "changed prompts")
