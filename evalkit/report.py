"""Render a comparison summary for people (a rich table) — machines get the JSON as is."""

from __future__ import annotations

from typing import Any


def _fmt_rate(block: dict[str, Any]) -> tuple[str, str]:
    if block.get("win_rate") is None:
        return "—", "—"
    lo, hi = block["ci"]
    return f"{block['win_rate']:.3f}", f"[{lo:.3f}, {hi:.3f}]"


def summary_table(summary: dict[str, Any], tags: list[str] | None = None) -> Any:
    from rich.table import Table

    pool = summary["pool"]
    title = (f"{summary['candidate']} (candidate) vs {summary['baseline']} (baseline) — "
             f"pool {pool['name']}@{pool['version'][:8]} ({pool['prompts']} prompts), "
             f"judge {summary['judge']}")
    table = Table(title=title, title_justify="left")
    for col in ("group", "n", "win", "tie", "loss", "invalid", "failed", "win rate",
                f"{int(summary['overall']['ci_level'] * 100)}% CI", "se", "p"):
        table.add_column(col, justify="left" if col == "group" else "right", no_wrap=True)

    def row(label: str, b: dict[str, Any], style: str | None = None) -> None:
        rate, ci = _fmt_rate(b)
        se = "—" if b.get("se") is None or b["se"] != b["se"] else f"{b['se']:.3f}"
        p = b.get("p_holm", b.get("p_value"))
        pv = "—" if p is None or p != p else f"{p:.3g}" + ("*" if "p_holm" in b else "")
        table.add_row(label, str(b["n"]), str(b["wins"]), str(b["ties"]), str(b["losses"]),
                      str(b["invalid"]), str(b["failed"]), rate, ci, se, pv, style=style)

    row("overall", summary["overall"], style="bold")
    for tag, values in summary["by_tag"].items():
        if tags is not None and tag not in tags:
            continue
        table.add_section()
        for value, block in values.items():
            row(f"{tag}={value}", block)
    return table


def footer(summary: dict[str, Any]) -> str:
    o = summary["overall"]
    req = summary["requests"]
    parts = [(f"nothing changed since comparison {summary['comparison_id']}: reused it, "
              "stored nothing") if summary.get("reused") else
             f"comparison {summary['comparison_id']}",
             f"CI: {o['ci_method']}"
             + (f", {o['n_boot']} resamples" if o.get("n_boot") else "")
             + f"; p: {o.get('test') or '—'} "
             "(* Holm-adjusted within each tag)",
             "ties count 0.5; invalid and failed prompts are excluded, never counted as losses",
             _length_line(o.get("length_controlled")),
             "requests: " + ", ".join(f"{k} {_counts(v)}" for k, v in req.items()),
             f"{summary['duration_s']:.1f}s"]
    return "\n".join(parts)


def _counts(c: dict[str, int]) -> str:
    return "/".join(f"{v} {k}" for k, v in sorted(c.items())) or "none"


def leaderboard_tables(board: dict[str, Any]) -> list[Any]:
    """The ratings (one table per connected component of the comparison graph: ratings and
    ranks compare only within one) and the pairwise win-rate matrix."""
    from rich.table import Table

    comps = board.get("components") or [{"component": 1, "mle": True}]
    level = int(round(board.get("ci_level", 0.95) * 100))
    tables = []
    for comp in comps:
        label = comp["component"]
        title = f"Leaderboard — pool {board['pool']}, judge {board['judge']}"
        caption = [f"CI: {board.get('ci_method', 'bootstrap')}"]
        if len(comps) > 1:
            title += f" — component {label} of {len(comps)}"
            caption.insert(0, "ratings and ranks compare only within a component (no "
                              "comparison links the components)")
        degenerate = comp.get("degenerate_rounds", board.get("degenerate_rounds"))
        if degenerate:
            caption.append(f"{degenerate} of {board.get('rounds')} rounds without a finite MLE "
                           "(fitted with the prior)")
        if not comp["mle"]:
            caption.append("† no finite MLE in this component: ratings use the prior")
        table = Table(title=title, title_justify="left", caption="; ".join(caption),
                      caption_justify="left")
        for col in ("rank", "checkpoint", "rating", f"{level}% CI", "n", "avg length"):
            table.add_column(col, justify="left" if col == "checkpoint" else "right",
                             no_wrap=True)
        for r in board["ratings"]:
            if r.get("component", 1) != label:
                continue
            length = "—" if r["avg_length"] is None else f"{r['avg_length']:.0f}"
            flag = "" if r.get("mle", True) else "†"
            table.add_row(str(r["rank"]), r["checkpoint"], f"{r['rating']:.1f}{flag}",
                          f"[{r['ci'][0]:.1f}, {r['ci'][1]:.1f}]", f"{r['n']:g}", length)
        tables.append(table)
    names = [r["checkpoint"] for r in board["ratings"]]
    matrix = Table(title="Win rate of row vs column", title_justify="left")
    matrix.add_column("", no_wrap=True)
    for n in names:
        matrix.add_column(n, justify="right", no_wrap=True)
    for a in names:
        cells = []
        for b in names:
            v = board["win_matrix"].get(a, {}).get(b)
            cells.append("—" if v is None else f"{v:.2f}")
        matrix.add_row(a, *cells)
    return [*tables, matrix]


def judge_eval_lines(result: dict[str, Any]) -> list[str]:
    ag, fl = result["agreement"], result["position_flip"]
    fp, lr = result["first_position"], result["longer_response"]
    return [
        f"judge {result['judge']} on {result['pairs']} labelled pairs ({result['labels']})",
        f"  agreement with humans: accuracy {ag['accuracy']:.3f}, Cohen's kappa "
        f"{ag['kappa']:.3f} (n={ag['n']})",
        f"  position flips: {fl['flip_rate']:.3f} strict, {fl['inconsistency_rate']:.3f} any "
        f"change (n={fl['n']})",
        f"  first-position win rate: {fp['rate']:.3f} (p={fp['p_value']:.3g}, n={fp['n']})",
        f"  longer-response win rate: {lr['rate']:.3f} (p={lr['p_value']:.3g}, n={lr['n']})",
        f"  stored as judge-eval {result['judge_eval_id']} "
        f"(comparison {result['comparison_id']})",
    ]


def _length_line(lc: dict[str, Any] | None) -> str:
    if not lc or lc.get("win_rate") is None:
        return "length-controlled win rate: — (too few prompts)"
    lo, hi = lc["ci"]
    return (f"length-controlled win rate: {lc['win_rate']:.3f} [{lo:.3f}, {hi:.3f}] "
            "(at equal response length)")


def items_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table("prompt", "sample", "outcome", "score", "candidate shown first",
                  "baseline shown first", title="Per prompt (verdicts name positions: A = "
                  "shown first)", title_justify="left")
    for r in rows:
        score = "—" if r["score"] is None else f"{r['score']:.3g}"
        table.add_row(r["item_id"], str(r["sample"]), r["outcome"], score,
                      r["verdict_candidate_first"] or "—", r["verdict_baseline_first"] or "—")
    return table
