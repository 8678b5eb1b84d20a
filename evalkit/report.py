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
                f"{int(summary['overall']['ci_level'] * 100)}% CI", "se"):
        table.add_column(col, justify="left" if col == "group" else "right", no_wrap=True)

    def row(label: str, b: dict[str, Any], style: str | None = None) -> None:
        rate, ci = _fmt_rate(b)
        se = "—" if b.get("se") is None or b["se"] != b["se"] else f"{b['se']:.3f}"
        table.add_row(label, str(b["n"]), str(b["wins"]), str(b["ties"]), str(b["losses"]),
                      str(b["invalid"]), str(b["failed"]), rate, ci, se, style=style)

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
    parts = [f"comparison {summary['comparison_id']}",
             f"CI: {o['ci_method']}, {o['n_boot']} resamples",
             "ties count 0.5; invalid and failed prompts are excluded, never counted as losses",
             "requests: " + ", ".join(f"{k} {_counts(v)}" for k, v in req.items()),
             f"{summary['duration_s']:.1f}s"]
    return "\n".join(parts)


def _counts(c: dict[str, int]) -> str:
    return "/".join(f"{v} {k}" for k, v in sorted(c.items())) or "none"
