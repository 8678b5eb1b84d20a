"""Gate reports: Markdown (for the CI log and the pull request), JUnit XML (one test case per
rule), and JSON (the ``GateResult`` as a dict)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

ICONS = {"pass": "✅", "regression": "❌", "skipped": "⏭️", "inconclusive": "⚠️"}


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _bound(rule: dict[str, Any]) -> str:
    b = rule.get("bound")
    if b is None:
        return "—"
    digits = 4 if abs(b - rule["threshold"]) < 5e-4 else 3
    return f"≤ {b:.{digits}f} ({rule['bound_level']:.1%})"


def _detects(rule: dict[str, Any]) -> str:
    if rule.get("mde_alpha") is None:
        return "—"
    if rule.get("mde") is None:
        return "nothing ⚠️"
    return f"≤ {0.5 - rule['mde']:.3f}" + (" ⚠️" if rule.get("underpowered") else "")


def _bench_table(rules: list[dict[str, Any]], power: str) -> list[str]:
    """The ``[gate.bench.SUITE]`` rules: paired differences, candidate − baseline."""
    bench = [rule for rule in rules if rule["name"].startswith("bench:")]
    if not bench:
        return []
    lines = ["**Benchmark rules** (candidate − baseline, paired by document)", "",
             "| rule | verdict | n | difference | upper bound (matches the test) | "
             f"threshold (−tolerance) | p (adj.) | detects ({power} power) |",
             "|" + "---|" * 8]
    for rule in bench:
        mde = rule.get("mde")
        bound = ("—" if rule.get("bound") is None else
                 f"≤ {rule['bound']:+.4f} ({rule['bound_level']:.1%})")
        est = "—" if rule["estimate"] is None else f"{rule['estimate']:+.3f}"
        cells = [rule["name"][6:], f"{ICONS[rule['verdict']]} {rule['verdict']}",
                 str(rule["n"]), est, bound, f"{rule['threshold']:+.3f}",
                 _fmt(rule["p_adjusted"], 4),
                 "—" if mde is None else f"a drop of {mde:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    why = [f"- {rule['name'][6:]}: {rule['reason']}" for rule in bench
           if rule["verdict"] == "inconclusive"]
    return lines + [""] + (why + [""] if why else [])


def markdown(report: dict[str, Any]) -> str:
    r = report
    seq = r.get("sequential")
    title = {"pass": "passed", "regression": "REGRESSION — blocked",
             "inconclusive": "INCONCLUSIVE — not enough trustworthy data"}[r["decision"]]
    if seq and seq["looks"]:
        title += f" (sequential, look {seq['looks'][-1]['look']} of {seq['design']['looks']})"
    pol = r["policy"]
    power = f"{pol.get('power', 0.8):.0%}"
    ni = pol.get("require") == "non-inferiority"
    lines = [f"## {ICONS[r['decision']]} evalkit gate: {title}", "",
             f"**{r['candidate']}** (candidate) vs **{r['baseline']}** (baseline) on pool "
             f"`{r['pool']}@{r['pool_version'][:8]}`, judge `{r['judge']}`, "
             f"{int(pol['confidence'] * 100)}% confidence, "
             f"{pol['correction']} correction"
             + (", non-inferiority required" if ni else "")
             + f". Exit code **{r['exit_code']}**.", ""]
    for i, note in enumerate(r.get("notes") or []):
        lines.append(f"> **{note}**" if i == 0 and r["decision"] != "regression" and
                     ("could only" in note or "Inconclusive" in note) else f"> {note}")
        lines.append(">")
    if r.get("notes"):
        lines[-1] = ""
    head = ["rule", "verdict", "n", "win rate", "upper bound (matches the test)",
            "threshold (0.5 − margin)"] + (["lower bound"] if ni else []) + [
            "p (adj.)", f"detects ({power} power)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in r["rules"]:
        if rule["name"].startswith("bench:"):
            continue
        cells = [rule["name"], f"{ICONS[rule['verdict']]} {rule['verdict']}", str(rule["n"]),
                 _fmt(rule["estimate"]), _bound(rule), f"{rule['threshold']:.3f}"]
        if ni:
            cells.append(_fmt(rule.get("lower_bound")))
        cells += [_fmt(rule["p_adjusted"], 4), _detects(rule)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "_upper bound_: one-sided, at the level that matches the corrected test (a rule "
              "blocks exactly when it lies below the threshold); _detects_: the win rate at or "
              "below which this run blocks with the stated power.", ""]
    lines += _bench_table(r["rules"], power)
    if seq:
        lines += _looks(seq)
    lines += ["**Data checks**", ""]
    for c in r["checks"]:
        lines.append(f"- {'✅' if c['ok'] else '⚠️'} {c['message']}")
    flips = r.get("flips") or {}
    lines += ["", "**Prompts that flipped from win to loss**"
              + (f" (vs comparison `{flips['against']}`: {flips['against_candidate']} vs "
                 f"{r['baseline']})" if flips.get("against") else ""), ""]
    items = flips.get("win_to_loss", [])
    if not flips.get("against"):
        lines.append("_No earlier comparison against this baseline to compare with._")
    elif not items:
        lines.append("_None._")
    for item in items[:20]:
        lines.append(f"- `{item['item_id']}` {item.get('tags', '')}")
    if len(items) > 20:
        lines.append(f"- … and {len(items) - 20} more")
    lines += ["", f"Comparison `{r['comparison_id']}` · gate run `{r['gate_id']}` · "
              f"evalkit {r['evalkit_version']}"]
    return "\n".join(lines) + "\n"


def _looks(seq: dict[str, Any]) -> list[str]:
    d = seq["design"]
    lines = [f"**Sequential looks** — {d['looks']} planned, error spending {d['spending']}; "
             f"blocks at most {d['alpha']:g} of runs at {d['threshold']:.3f}, misses at most "
             f"{1 - d['power']:.2g} at {d['alternative']:.3f}; judged "
             f"{seq['judged_prompts']:,} of {seq['available_prompts']:,} prompts"
             + (f" (the fixed gate needs {seq['fixed_n']:,})" if seq.get("fixed_n") else "")
             + ".", "",
             "| look | n | win rate | block if ≤ | pass if ≥ | decision |",
             "|---|---|---|---|---|---|"]
    for lk in seq["looks"]:
        lines.append(f"| {lk['look']} | {lk['n']} | {lk['estimate']:.3f} | "
                     f"{lk['block_below']:.3f} | {lk['pass_above']:.3f} | {lk['decision']} |")
    return lines + [""]


def junit(report: dict[str, Any]) -> str:
    rules = report["rules"]
    failed_checks = [c["message"] for c in report["checks"] if not c["ok"]]
    data_error = report["decision"] == "inconclusive" and (
        failed_checks or not any(r["verdict"] == "inconclusive" for r in rules))
    suite = ET.Element("testsuite", name="evalkit-gate", tests=str(len(rules)),
                       failures=str(sum(r["verdict"] == "regression" for r in rules)),
                       errors=str(sum(r["verdict"] == "inconclusive" for r in rules)
                                  + (1 if data_error else 0)),
                       skipped=str(sum(r["verdict"] == "skipped" for r in rules)))
    for rule in rules:
        case = ET.SubElement(suite, "testcase", classname=f"evalkit.gate.{report['pool']}",
                             name=rule["name"])
        detail = (f"win rate {_fmt(rule['estimate'])}, one-sided upper bound {_bound(rule)}, "
                  f"threshold {rule['threshold']:.3f}, adjusted p "
                  f"{_fmt(rule['p_adjusted'], 4)}, n {rule['n']}, detects {_detects(rule)}")
        if rule["verdict"] == "regression":
            ET.SubElement(case, "failure", message=rule["reason"]).text = detail
        elif rule["verdict"] == "inconclusive":
            ET.SubElement(case, "error", message=rule["reason"]).text = detail
        elif rule["verdict"] == "skipped":
            ET.SubElement(case, "skipped", message=rule["reason"])
        ET.SubElement(case, "system-out").text = detail
    if data_error:
        case = ET.SubElement(suite, "testcase", classname=f"evalkit.gate.{report['pool']}",
                             name="data-quality")
        ET.SubElement(case, "error", message="inconclusive").text = "; ".join(
            failed_checks or report.get("notes") or [])
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)
