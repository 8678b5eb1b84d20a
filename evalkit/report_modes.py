"""Render the judging modes' results for people (rich tables and lines): the style-controlled
leaderboard, a panel's members and their agreement, grade runs and score differences. The
JSON of each is the contract; this is its view."""

from __future__ import annotations

from typing import Any


def _ci(ci: list[float] | None, digits: int = 1) -> str:
    return "—" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def style_tables(board: dict[str, Any]) -> list[Any]:
    """Plain and style-controlled ratings side by side, then the style coefficients."""
    from rich.table import Table

    style = board["style_control"]
    level = int(round(style.get("ci_level", 0.95) * 100))
    side = Table(title=f"With and without style control — pool {board['pool']}, judge "
                       f"{board['judge']}", title_justify="left",
                 caption=f"both: {level}% prompt-cluster bootstrap CIs, rank by CI; style "
                         "control fits the ratings jointly with the coefficients below",
                 caption_justify="left")
    for col in ("checkpoint", "rating", f"{level}% CI", "rank", "style-controlled",
                f"{level}% CI ", "rank ", "change"):
        side.add_column(col, justify="left" if col == "checkpoint" else "right", no_wrap=True)
    rows = sorted(board["ratings"], key=lambda r: -(r.get("style_rating") or r["rating"]))
    for r in rows:
        s = r.get("style_rating")
        side.add_row(r["checkpoint"], f"{r['rating']:.1f}", _ci(r["ci"]), str(r["rank"]),
                     "—" if s is None else f"{s:.1f}", _ci(r.get("style_ci")),
                     str(r.get("style_rank") or "—"),
                     "—" if s is None else f"{s - r['rating']:+.1f}")
    coef = Table(title="What the judge rewards (per standard deviation of the feature "
                       "difference)", title_justify="left",
                 caption="coef: log-odds; points: rating points; sd: the feature's spread "
                         + ("; dropped (no variation): " + ", ".join(style["dropped"])
                            if style.get("dropped") else ""), caption_justify="left")
    for col in ("feature", "coef", f"{level}% CI", "points", f"{level}% CI ", "sd"):
        coef.add_column(col, justify="left" if col == "feature" else "right", no_wrap=True)
    for c in style["coefficients"]:
        coef.add_row(c["feature"], f"{c['coef']:+.3f}", _ci(c["ci"], 3), f"{c['points']:+.1f}",
                     _ci(c["points_ci"]), f"{c['sd']:.3g}")
    return [side, coef]


def panel_lines(summary: dict[str, Any]) -> list[str]:
    """A panel's members (each one's win rate on the same items) and their agreement."""
    panel = summary.get("panel")
    if not panel:
        return []
    lines = [f"panel ({panel['rule']}): each member on the same items"]
    for m in panel["members"]:
        rate = "—" if m["win_rate"] is None else f"{m['win_rate']:.3f} {_ci(m['ci'], 3)}"
        lines.append(f"  {m['judge']}: win rate {rate}, n={m['n']} ({m['wins']} win / "
                     f"{m['ties']} tie / {m['losses']} loss / {m['invalid']} invalid)")
    for a in panel["agreement"]:
        kappa = "—" if a["kappa"] is None else f"{a['kappa']:.3f}"
        share = "—" if a["agreement"] is None else f"{a['agreement']:.3f}"
        lines.append(f"  {a['a']} vs {a['b']}: agree on {share} of {a['n']} items, Cohen's "
                     f"kappa {kappa} {_ci(a['kappa_ci'], 3)}")
    return lines


def grade_table(summary: dict[str, Any]) -> Any:
    """A grade run: the mean score overall and per tag value, with prompt-clustered CIs."""
    from rich.table import Table

    pool = summary["pool"]
    lo, hi = summary["scale"]
    table = Table(title=f"{summary['checkpoint']} graded by {summary['grader']} "
                        f"(scale {lo:g}–{hi:g}) — pool {pool['name']}@{pool['version'][:8]}",
                  title_justify="left")
    for col in ("group", "n", "mean", f"{int(summary['overall']['ci_level'] * 100)}% CI", "sd",
                "invalid", "failed"):
        table.add_column(col, justify="left" if col == "group" else "right", no_wrap=True)

    def row(label: str, b: dict[str, Any], style: str | None = None) -> None:
        mean = "—" if b["mean"] is None else f"{b['mean']:.3f}"
        sd = "—" if b.get("sd") is None else f"{b['sd']:.3f}"
        table.add_row(label, str(b["n"]), mean, _ci(b["ci"], 3), sd, str(b["invalid"]),
                      str(b["failed"]), style=style)

    row("overall", summary["overall"], style="bold")
    for tag, values in summary["by_tag"].items():
        table.add_section()
        for value, block in values.items():
            row(f"{tag}={value}", block)
    return table


def difference_lines(diff: dict[str, Any]) -> list[str]:
    """The paired score difference between two checkpoints."""
    d = diff["overall"]
    if d["n"] == 0:
        return [f"{diff['candidate']} − {diff['baseline']}: no prompt graded validly for both"]
    lines = [f"{diff['candidate']} − {diff['baseline']} (grader {diff['grader']}): "
             f"{d['delta']:+.3f} {_ci(d['ci'], 3)} on {d['n']} prompts graded for both "
             f"(means {d['mean_b']:.3f} vs {d['mean_a']:.3f}); {d['test']} p = "
             f"{d['p_value']:.3g}"]
    for tag, values in diff.get("by_tag", {}).items():
        for value, b in values.items():
            if b["n"]:
                lines.append(f"  {tag}={value}: {b['delta']:+.3f} {_ci(b['ci'], 3)} "
                             f"(n={b['n']}, p = {b['p_value']:.3g})")
    return lines
