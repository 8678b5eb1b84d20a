"""Gate reports: Markdown (for the CI log and the pull request), JUnit XML (one test case per
rule), and JSON (the ``GateResult`` as a dict)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

ICONS = {"pass": "✅", "regression": "❌", "skipped": "⏭️", "inconclusive": "⚠️"}


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    r = report
    title = {"pass": "passed", "regression": "REGRESSION — blocked",
             "inconclusive": "INCONCLUSIVE — not enough trustworthy data"}[r["decision"]]
    lines = [f"## {ICONS[r['decision']]} evalkit gate: {title}", "",
             f"**{r['candidate']}** (candidate) vs **{r['baseline']}** (baseline) on pool "
             f"`{r['pool']}@{r['pool_version'][:8]}`, judge `{r['judge']}`, "
             f"{int(r['policy']['confidence'] * 100)}% confidence, "
             f"{r['policy']['correction']} correction. Exit code **{r['exit_code']}**.", "",
             "| rule | verdict | n | win rate | CI | threshold (0.5 − margin) | p (adj.) |",
             "|---|---|---|---|---|---|---|"]
    for rule in r["rules"]:
        ci = "—" if rule["ci"] is None else f"[{rule['ci'][0]:.3f}, {rule['ci'][1]:.3f}]"
        lines.append(f"| {rule['name']} | {ICONS[rule['verdict']]} {rule['verdict']} | "
                     f"{rule['n']} | {_fmt(rule['estimate'])} | {ci} | "
                     f"{rule['threshold']:.3f} | {_fmt(rule['p_adjusted'], 4)} |")
    lines += ["", "**Data checks**", ""]
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


def junit(report: dict[str, Any]) -> str:
    rules = report["rules"]
    suite = ET.Element("testsuite", name="evalkit-gate", tests=str(len(rules)),
                       failures=str(sum(r["verdict"] == "regression" for r in rules)),
                       errors=str(0 if report["decision"] != "inconclusive" else 1),
                       skipped=str(sum(r["verdict"] == "skipped" for r in rules)))
    for rule in rules:
        case = ET.SubElement(suite, "testcase", classname=f"evalkit.gate.{report['pool']}",
                             name=rule["name"])
        detail = (f"win rate {_fmt(rule['estimate'])}, CI {rule['ci']}, threshold "
                  f"{rule['threshold']:.3f}, adjusted p {_fmt(rule['p_adjusted'], 4)}, "
                  f"n {rule['n']}")
        if rule["verdict"] == "regression":
            ET.SubElement(case, "failure", message=rule["reason"]).text = detail
        elif rule["verdict"] == "skipped":
            ET.SubElement(case, "skipped", message=rule["reason"])
        ET.SubElement(case, "system-out").text = detail
    if report["decision"] == "inconclusive":
        case = ET.SubElement(suite, "testcase", classname=f"evalkit.gate.{report['pool']}",
                             name="data-quality")
        failed = [c["message"] for c in report["checks"] if not c["ok"]]
        ET.SubElement(case, "error", message="inconclusive").text = "; ".join(failed)
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)
