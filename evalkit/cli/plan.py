"""``evalkit plan``: how many prompts the gate needs to see the regression you care about."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import JsonOpt, _print_json

app = typer.Typer()


@app.command()
def plan(
    margin: Annotated[float, typer.Option("--margin", help="the gate's margin: it blocks a "
                                          "win rate credibly below 0.5 − margin")] = 0.02,
    power: Annotated[float, typer.Option("--power", help="probability of blocking the "
                                         "regression below")] = 0.8,
    regression: Annotated[float | None, typer.Option(
        "--regression", help="the drop below 0.5 to catch (default: margin + 0.03)")] = None,
    win_rate: Annotated[float | None, typer.Option(
        "--win-rate", help="or: the true win rate to catch (0.5 − regression)")] = None,
    ties: Annotated[float, typer.Option("--ties", help="expected tie rate (0 is the "
                                        "cautious choice: the most prompts)")] = 0.0,
    alpha: Annotated[float, typer.Option("--alpha", help="false-block rate at the "
                                         "threshold (1 − confidence)")] = 0.05,
    rules: Annotated[int, typer.Option("--rules", help="gate rules sharing α with Holm or "
                                       "BH (plans at α/rules, their first step)")] = 1,
    sequential: Annotated[bool, typer.Option("--sequential", help="also plan the "
                                             "sequential gate")] = False,
    looks: Annotated[int, typer.Option("--looks", help="sequential: planned looks")] = 10,
    spending: Annotated[float, typer.Option("--spending", help="sequential: error "
                                            "spending α·t^ρ, this ρ")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Prompts the gate needs: fixed n, and the sequential gate's maximum and expected n."""
    from ..errors import ConfigError
    from ..stats.power import PlanSpec, plan_margin_test

    if regression is not None and win_rate is not None:
        raise ConfigError("plan: give --regression or --win-rate, not both")
    if win_rate is not None:
        regression = round(0.5 - win_rate, 12)
    if regression is None:
        regression = margin + 0.03
    checks = [(0 <= margin < 0.5, "--margin must be in [0, 0.5)"),
              (margin < regression < 0.5, "the regression to catch must lie between the "
               "margin and 0.5 (a win rate below 0.5 − margin)"),
              (0.5 < power < 1, "--power must be between 0.5 and 1"),
              (0 <= ties < 1, "--ties must be in [0, 1)"),
              (regression <= (1 - ties) / 2, "with that tie rate the win rate cannot drop so "
               "far (at most (1 − ties)/2 below 0.5)"),
              (0 < alpha < 0.5, "--alpha must be between 0 and 0.5"),
              (1 <= rules <= 1000, "--rules must be between 1 and 1000"),
              (1 <= looks <= 50, "--looks must be between 1 and 50"),
              (0.5 <= spending <= 5, "--spending must be between 0.5 and 5")]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"plan: {message}")
    result = plan_margin_test(PlanSpec(margin=margin, regression=regression, tie_rate=ties,
                                       alpha=alpha, power=power, rules=rules,
                                       looks=looks if sequential else 0, rho=spending))
    out = _as_dict(result)
    if as_json:
        _print_json(out)
        return
    typer.echo(_text(out))


def _as_dict(result: Any) -> dict[str, Any]:
    spec = result.spec
    seq = result.sequential
    return {
        "margin": spec.margin, "threshold": result.threshold, "regression": spec.regression,
        "win_rate": result.alternative, "tie_rate": spec.tie_rate, "alpha": spec.alpha,
        "rules": spec.rules, "alpha_per_rule": result.alpha_per_rule, "power": spec.power,
        "sd": result.sd, "test": "one-sided t-test of H0: win rate >= 0.5 - margin",
        "fixed": {"prompts": result.fixed_n},
        "sequential": None if seq is None else {
            "looks": seq.looks, "spending": f"t^{seq.rho:g}", "max_prompts": seq.max_n,
            "expected_prompts": {"at_win_rate": round(seq.expected_n_alternative, 1),
                                 "at_threshold": round(seq.expected_n_threshold, 1),
                                 "at_0.5": round(seq.expected_n_equal, 1)},
            "look_prompts": list(seq.look_n), "inflation": seq.inflation},
        "note": "valid prompts (both judge orders: twice as many judge calls); plan on the "
                "tie rate your judge produces, or 0 to be safe",
    }


def _text(p: dict[str, Any]) -> str:
    lines = [f"To block a true win rate of {p['win_rate']:.3f} (a drop of "
             f"{p['regression']:.3f} below 0.5) with {p['power']:.0%} power, blocking at most "
             f"{p['alpha']:.3g} of runs at the threshold {p['threshold']:.3f} "
             f"(margin {p['margin']:g}), tie rate {p['tie_rate']:g}"
             + (f", α/{p['rules']} = {p['alpha_per_rule']:.3g} per rule" if p["rules"] > 1
                else "") + ":",
             f"  fixed gate:      {p['fixed']['prompts']:,} valid prompts"]
    s = p["sequential"]
    if s:
        e = s["expected_prompts"]
        lines.append(f"  sequential gate: at most {s['max_prompts']:,} valid prompts "
                     f"({s['looks']} looks, spending {s['spending']}); on average "
                     f"{e['at_win_rate']:,.0f} at a win rate of {p['win_rate']:.3f}, "
                     f"{e['at_threshold']:,.0f} at {p['threshold']:.3f}, "
                     f"{e['at_0.5']:,.0f} at 0.500")
    lines.append("  (valid prompts; judging both orders costs two judge calls each)")
    return "\n".join(lines)
