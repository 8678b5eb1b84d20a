"""Reward-model results for people (rich tables and lines); machines get the JSON as is."""

from __future__ import annotations

from typing import Any


def _num(v: Any, digits: int = 3) -> str:
    return "—" if v is None or v != v else f"{v:.{digits}f}"


def _ci(ci: Any, digits: int = 3) -> str:
    return "—" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def distribution_table(summary: dict[str, Any], by_tag: bool) -> Any:
    from rich.table import Table

    pool = summary["pool"]
    level = int(summary["overall"]["ci_level"] * 100)
    table = Table(title=f"{summary['checkpoint']} scored by {summary['reward_model']} — pool "
                  f"{pool['name']}@{pool['version'][:8]} ({pool['prompts']} prompts)",
                  title_justify="left")
    for col in ("group", "n", "failed", "mean", f"{level}% CI", "sd", "p05", "p25", "p50",
                "p75", "p95"):
        table.add_column(col, justify="left" if col == "group" else "right", no_wrap=True)

    def row(label: str, b: dict[str, Any], style: str | None = None) -> None:
        q = b.get("quantiles") or {}
        table.add_row(label, str(b["n"]), str(b.get("failed", 0)), _num(b["mean"]),
                      _ci(b["ci"]), _num(b["sd"]),
                      *(_num(q.get(k)) for k in ("p05", "p25", "p50", "p75", "p95")),
                      style=style)

    row("overall", summary["overall"], "bold")
    if by_tag:
        for tag, values in summary["by_tag"].items():
            table.add_section()
            for value, block in values.items():
                row(f"{tag}={value}", block)
    return table


def score_footer(summary: dict[str, Any]) -> str:
    req = summary["requests"]
    counts = "; ".join(f"{k}: " + ", ".join(f"{n} {v}" for n, v in c.items())
                       for k, c in req.items())
    return "\n".join([
        f"score run {summary['score_run_id']} · reward model {summary['reward_model']} "
        f"({summary['rm_backend']}, spec {summary['rm_spec']}) · raw rewards, no activation",
        "CI: t-interval over prompt means; quantiles over all scored responses; failed "
        "responses are left out and asked again next run",
        f"requests: {counts}", f"{summary['duration_s']:.1f}s"])


def rm_eval_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    level = int(result["ci_level"] * 100)
    table = Table(title=f"reward model {result['reward_model']} on {result['n_pairs']} "
                  "human preference pairs", title_justify="left")
    for col in ("subset", "n", "correct", "ties", "failed", "accuracy", f"{level}% CI",
                "mean margin"):
        table.add_column(col, justify="left" if col == "subset" else "right", no_wrap=True)

    def row(label: str, b: dict[str, Any], style: str | None = None) -> None:
        table.add_row(label, str(b["n"]), str(b["correct"]), str(b["ties"]), str(b["failed"]),
                      _num(b["accuracy"]), _ci(b["ci"]), _num(b["mean_margin"]), style=style)

    row("overall", result["overall"], "bold")
    table.add_section()
    for name, block in result["subsets"].items():
        row(name, block)
    return table


def rm_eval_footer(result: dict[str, Any]) -> str:
    return (f"rm-eval {result['rm_eval_id']} · {result['rule']} · CI: {result['ci_method']} · "
            f"requests: {result['requests']} · {result['duration_s']:.1f}s")


def rm_vs_judge_lines(out: dict[str, Any]) -> list[str]:
    a, d = out["agreement"], out["decisive_agreement"]
    pct = int(a["ci_level"] * 100)
    lines = [
        f"{out['candidate']} (candidate) vs {out['baseline']} (baseline), pool "
        f"{out['pool']['name']}@{out['pool']['version'][:8]}: reward model "
        f"{out['reward_model']} vs judge {out['judge']} on {out['n']} prompts"
        + (f" ({out['excluded']} left out: invalid or failed)" if out["excluded"] else ""),
        f"agreement {_num(a['rate'])} {pct}% CI {_ci(a['ci'])} ({a['k']}/{a['n']}, exact "
        f"binomial) · Cohen's kappa {_num(out['kappa'])} {_ci(out['kappa_ci'])}",
        f"decisive agreement (neither calls a tie) {_num(d['rate'])} {_ci(d['ci'])} "
        f"({d['k']}/{d['n']})",
        "confusion (rows: reward model, columns: judge; candidate's view): "
        + "; ".join(f"{r}: " + ", ".join(f"{j} {n}" for j, n in cols.items())
                    for r, cols in out["confusion"].items()),
        f"{out['opposite']} prompts decided in opposite directions; the strongest:"]
    for x in out["disagreements"]:
        z = x["delta_sd_units"]
        lines.append(
            f"  #{x['position']} {x['item_id']}: reward model says {x['rm_outcome']} "
            f"(Δ {_num(x['delta'])}" + (f", {z:+.1f} sd" if z is not None else "")
            + f"), judge says {x['judge_outcome']} (strength {x['judge_strength']:g})")
    lines.append(f"report {out['report_id']} · comparisons {out['judge_comparison_id']} "
                 f"(judge), {out['rm_comparison_id']} (reward model"
                 + (", run now)" if out["rm_comparison_ran"] else ", stored)"))
    return lines
