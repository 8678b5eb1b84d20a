"""Judge panels: ``[judges.NAME] panel = [...]`` with a combination rule. Two scripted judges
that disagree on known prompts; the panel's verdict in each order follows its rule from the
members' stored verdicts, each member's judgments are stored under its own spec (running a
member alone afterwards asks nothing), and the reported kappa between members equals the hand
computation from the stored verdicts."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.judging.outcomes import OrderVerdict, prompt_outcome
from evalkit.judging.panel import MemberVerdict, combine
from evalkit.judging.parse import Verdict

N = 40


@pytest.fixture
def project(tmp_path: Path, serve) -> tuple[Path, Any]:
    scenario = make_scenario(strength_b=0.6, tie_prob=0.1)
    scenario["models"]["judge2"] = {"kind": "judge", "strengths": {"base": 0.4, "cand": 0.0},
                                    "tie_prob": 0.25, "seed": 9}
    scenario["models"]["judge3"] = {"kind": "judge", "strengths": {"base": 0.0, "cand": 1.0},
                                    "seed": 4}
    srv = serve(scenario)
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    with open(tmp_path / "evalkit.toml", "a") as fh:
        fh.write(f'\n[judges.sim2]\nbase_url = "{srv.base_url}"\nmodel = "judge2"\n'
                 f'\n[judges.sim3]\nbase_url = "{srv.base_url}"\nmodel = "judge3"\n')
        for rule in ("majority", "mean", "unanimous"):
            fh.write(f'\n[judges.{rule}]\npanel = ["sim", "sim2"]\nrule = "{rule}"\n')
        fh.write('\n[judges.trio]\npanel = ["sim", "sim2", "sim3"]\n')
    write_pool(tmp_path / "pool.jsonl", N)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    return tmp_path, srv


def stored_items(db: Path, comparison_id: str) -> list[dict[str, Any]]:
    """Per item: the panel's verdicts per order and the members' verdicts behind them."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "select ci.item_id, ci.outcome, ci.score, jc.verdict, jc.preference, jc.raw_output, "
            "jb.verdict, jb.preference, jb.raw_output from comparisonitem ci "
            "join judgment jc on jc.key = ci.judgment_cand_first "
            "join judgment jb on jb.key = ci.judgment_base_first "
            "where ci.comparison_id = ? order by ci.position", (comparison_id,)).fetchall()
        members = {k: (v, s, p) for k, v, s, p in con.execute(
            "select key, verdict, strength, preference from judgment")}
    finally:
        con.close()
    out = []
    for item, outcome, score, vc, pc, rc, vb, pb, rb in rows:
        orders = []
        for verdict, pref, raw, cf in ((vc, pc, rc, True), (vb, pb, rb, False)):
            listed = json.loads(raw)["members"]
            for m in listed:  # what the panel combined is what the member's own row holds
                assert members[m["key"]][:2] == (m["verdict"], m["strength"])
            orders.append({"verdict": verdict, "preference": pref, "cf": cf,
                           "members": {m["judge"]: m for m in listed}})
        out.append({"item": item, "outcome": outcome, "score": score, "orders": orders})
    return out


def by_hand(rule: str, members: list[dict[str, Any]]) -> tuple[str, float | None]:
    """The rule, written out: labels A/B/tie; mean of P(second better) for 'mean'."""
    labels = [m["verdict"] for m in members]
    if rule == "mean":
        p = sum({"A": 0.0, "B": 1.0, "tie": 0.5}[v] for v in labels) / len(labels)
        return ("B" if p > 0.5 else "A" if p < 0.5 else "tie"), p
    if rule == "unanimous":
        return (labels[0] if len(set(labels)) == 1 else "tie"), None
    label, n = Counter(labels).most_common(1)[0]
    return (label if 2 * n > len(labels) else "tie"), None


def member_outcome(item: dict[str, Any], judge: str) -> str:
    orders = [OrderVerdict(Verdict(o["members"][judge]["verdict"],
                                   o["members"][judge]["strength"]), o["cf"])
              for o in item["orders"]]
    return prompt_outcome(orders)[0]


def hand_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(a) | set(b)) / n**2
    return (po - pe) / (1 - pe)


@pytest.mark.parametrize("rule", ["majority", "mean", "unanimous"])
def test_panel_follows_its_rule_and_reports_each_member_and_kappa(project, rule: str) -> None:
    tmp, srv = project
    out = cli_json(["compare", "base", "cand", "--pool", "small", "--judge", rule], tmp)
    panel = out["panel"]
    assert panel["rule"] == rule and [m["judge"] for m in panel["members"]] == ["sim", "sim2"]
    items = stored_items(tmp / "evalkit.db", out["comparison_id"])
    assert len(items) == N
    for it in items:
        for o in it["orders"]:
            label, pref = by_hand(rule, list(o["members"].values()))
            assert o["verdict"] == label
            assert o["preference"] == (None if pref is None else pytest.approx(pref))
    a = [member_outcome(it, "sim") for it in items]
    b = [member_outcome(it, "sim2") for it in items]
    assert 0 < sum(x != y for x, y in zip(a, b, strict=True)) < N  # they do disagree
    (ag,) = panel["agreement"]
    assert (ag["a"], ag["b"], ag["n"]) == ("sim", "sim2", N)
    assert ag["agreement"] == pytest.approx(sum(x == y for x, y in zip(a, b, strict=True)) / N)
    assert ag["kappa"] == pytest.approx(hand_kappa(a, b), abs=1e-12)
    for name, outcomes in (("sim", a), ("sim2", b)):
        m = next(m for m in panel["members"] if m["judge"] == name)
        c = Counter(outcomes)
        assert (m["wins"], m["ties"], m["losses"]) == (c["win"], c["tie"], c["loss"])
        assert m["win_rate"] == pytest.approx((c["win"] + 0.5 * c["tie"]) / N)
    print(f"\n{rule}: panel win rate {out['overall']['win_rate']:.3f}; sim "
          f"{panel['members'][0]['win_rate']:.3f}, sim2 {panel['members'][1]['win_rate']:.3f};"
          f" kappa {ag['kappa']:.4f} (by hand {hand_kappa(a, b):.4f})")
    # each member's judgments are its own: judging with a member alone asks nothing new
    before = srv.stats()["by_model"]["judge"]["requests"]
    alone = cli_json(["compare", "base", "cand", "--pool", "small", "--judge", "sim"], tmp)
    assert srv.stats()["by_model"]["judge"]["requests"] == before
    assert alone["overall"]["win_rate"] == pytest.approx(panel["members"][0]["win_rate"])


def test_rules_recombine_stored_member_verdicts_and_three_members(project) -> None:
    tmp, srv = project
    cli_json(["compare", "base", "cand", "--pool", "small", "--judge", "majority"], tmp)
    asked = srv.stats()["requests"]
    mean = cli_json(["compare", "base", "cand", "--pool", "small", "--judge", "mean"], tmp)
    assert srv.stats()["requests"] == asked  # another rule: no member asked again
    assert mean["panel"]["requests"] == {"cached": 4 * N}
    trio = cli_json(["compare", "base", "cand", "--pool", "small", "--judge", "trio"], tmp)
    assert len(trio["panel"]["agreement"]) == 3  # every pair of members
    shown = run_cli(["show", trio["comparison_id"]], tmp).stdout
    assert "panel (majority)" in shown and "sim2 vs sim3" in shown and "Cohen's kappa" in shown
    items = stored_items(tmp / "evalkit.db", trio["comparison_id"])
    for it in items:
        for o in it["orders"]:
            assert o["verdict"] == by_hand("majority", list(o["members"].values()))[0]


def test_combine_rules_directly() -> None:
    def mv(label: str, strength: int = 1, pref: float | None = None) -> MemberVerdict:
        return MemberVerdict("j", "s", "k", label, strength if label in "AB" else 0, pref)

    assert combine([mv("A", 2), mv("A", 1)], "majority") == (Verdict("A", 1), None)
    assert combine([mv("A"), mv("tie")], "majority")[0].label == "tie"
    assert combine([mv("A"), mv("B"), mv("A")], "majority")[0].label == "A"
    assert combine([mv("A"), mv("invalid")], "majority")[0].label == "invalid"
    assert combine([mv("B"), mv("tie")], "mean") == (Verdict("B", 1), 0.75)
    assert combine([mv("A", pref=0.2), mv("B", pref=0.6)], "mean")[1] == pytest.approx(0.4)
    assert combine([mv("B"), mv("B")], "unanimous")[0].label == "B"
    assert combine([mv("B"), mv("A")], "unanimous")[0].label == "tie"


@pytest.mark.parametrize("table, message", [
    ('[judges.p]\npanel = ["sim"]\n', "at least two"),
    ('[judges.p]\npanel = ["sim", "sim"]\n', "listed twice"),
    ('[judges.p]\npanel = ["sim", "sim2"]\nrule = "vote"\n', "majority, mean, unanimous"),
    ('[judges.p]\npanel = ["sim", "sim2"]\nmodel = "x"\n', "unknown key 'model'"),
    ('[judges.p]\npanel = ["sim", "majority"]\n', "is itself a panel"),
])
def test_bad_panels_are_one_line_errors(project, table: str, message: str) -> None:
    tmp, _ = project
    with open(tmp / "evalkit.toml", "a") as fh:
        fh.write("\n" + table)
    bad = run_cli(["compare", "base", "cand", "--pool", "small", "--judge", "p"], tmp,
                  check=False)
    assert bad.returncode == 2 and message in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_unknown_member_is_one_line(project) -> None:
    tmp, _ = project
    with open(tmp / "evalkit.toml", "a") as fh:
        fh.write('\n[judges.p]\npanel = ["sim", "nobody"]\n')
    bad = run_cli(["compare", "base", "cand", "--pool", "small", "--judge", "p"], tmp,
                  check=False)
    assert bad.returncode == 2 and "no judge named 'nobody'" in bad.stderr


def test_a_reward_model_member(tmp_path: Path, serve) -> None:
    pytest.importorskip("evalkit.judging.reward")
    from rm_helpers import rm_table, with_rewards

    srv = serve(with_rewards(make_scenario(strength_b=0.6),
                             {"rm": {"rule": "markers", "share": {"base": 0.3, "cand": 0.8},
                                     "seed": 1}}))
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    with open(tmp_path / "evalkit.toml", "a") as fh:
        fh.write("\n" + rm_table("rm", backend="vllm", base_url=srv.base_url, model="rm",
                                 batch_size=8))
        fh.write('\n[judges.mixed]\npanel = ["sim", "rm:rm"]\nrule = "mean"\n')
    write_pool(tmp_path / "pool.jsonl", 20)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    out = cli_json(["compare", "base", "cand", "--pool", "small", "--judge", "mixed"], tmp_path)
    assert [m["judge"] for m in out["panel"]["members"]] == ["sim", "rm:rm"]
    assert out["overall"]["n"] == 20 and out["overall"]["failed"] == 0
    items = stored_items(tmp_path / "evalkit.db", out["comparison_id"])
    for it in items:
        for o in it["orders"]:
            assert o["verdict"] == by_hand("mean", list(o["members"].values()))[0]
