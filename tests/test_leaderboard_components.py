"""`evalkit leaderboard` on a real store in situations that used to crash or mislead: a
comparison graph in two pieces, a checkpoint that never won, and repeated samples of the same
prompts (where only resampling prompts gives honest intervals)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.leaderboard import build_leaderboard
from evalkit.store import make_engine, queries
from evalkit.testing import ScriptedServer

N = 40


@pytest.fixture(scope="module")
def split_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base–cand and base–weak form one component, third–fourth another; weak lost every
    battle (no finite MLE in its component). Real `evalkit compare` runs."""
    root = tmp_path_factory.mktemp("split-store")
    scenario = make_scenario(
        tie_prob=0.0, models={"fourth": {"kind": "chat"}, "weak": {"kind": "chat"}},
        judge={"strengths": {"base": 0.0, "cand": 1.0, "weak": -40.0, "third": 0.5,
                             "fourth": 0.0}})
    with ScriptedServer(scenario) as srv:
        write_pool(root / "pool.jsonl", N)
        write_config(root / "evalkit.toml", srv.base_url,
                     checkpoints=("base", "cand", "third", "fourth", "weak"))
        run_cli(["pool", "import", "small", "pool.jsonl"], root)
        for a, b in (("base", "cand"), ("third", "fourth"), ("base", "weak")):
            cli_json(["compare", a, b, "--pool", "small"], root)
    return root


def test_disconnected_pairs_and_a_checkpoint_that_never_won(split_store: Path) -> None:
    """Exit 0, both components shown, nothing crashes."""
    tmp_path = split_store
    board = cli_json(["leaderboard", "--pool", "small"], tmp_path)
    comps = board["components"]
    assert [sorted(c["checkpoints"]) for c in comps] == [["base", "cand", "weak"],
                                                        ["fourth", "third"]]
    assert [c["component"] for c in comps] == [1, 2] and [c["pairs"] for c in comps] == [2, 1]
    assert comps[0]["mle"] is False and comps[1]["mle"] is True
    assert [c["degenerate_rounds"] for c in comps] == [200, 0]
    by_name = {r["checkpoint"]: r for r in board["ratings"]}
    assert {n: r["component"] for n, r in by_name.items()} == {
        "base": 1, "cand": 1, "weak": 1, "third": 2, "fourth": 2}
    assert [r["checkpoint"] for r in board["ratings"]][:3] == ["cand", "base", "weak"]
    assert by_name["weak"]["mle"] is False and by_name["third"]["mle"] is True
    assert by_name["weak"]["rank"] == 3 and by_name["weak"]["rating"] < by_name["base"]["ci"][0]
    # each component is centred on its own: third and fourth average 1000
    assert by_name["third"]["rating"] + by_name["fourth"]["rating"] == pytest.approx(2000)
    assert {by_name["third"]["rank"], by_name["fourth"]["rank"]} <= {1, 2}
    assert board["ci_method"] == "prompt-cluster bootstrap" and board["prompts"] == N
    assert board["degenerate_rounds"] == board["rounds"] == 200
    assert any("2 connected components" in n for n in board["notes"])
    assert any("['weak'] never beat" in n for n in board["notes"])
    assert "pseudo-model" in board["method"] and "each component separately" in board["scale"]
    assert all(r["ci"][0] <= r["rating"] <= r["ci"][1] for r in board["ratings"])

    table = run_cli(["leaderboard", "--pool", "small"], tmp_path)
    assert table.returncode == 0 and "Traceback" not in table.stderr
    out = " ".join(table.stdout.split())
    assert "component 1 of 2" in out and "component 2 of 2" in out
    assert "ratings and ranks compare only within a component" in out
    assert "†" in out and "no finite MLE" in out
    one, two = out.index("component 1 of 2"), out.index("component 2 of 2")
    assert one < out.index("weak") < two < out.index("third")
    # the older battle bootstrap is still there, and agrees on the point estimates
    engine = make_engine(f"sqlite:///{tmp_path / 'evalkit.db'}", create=False)
    battles = build_leaderboard(engine, "small", "sim", ci="battles")
    assert battles["ci_method"] == "battle bootstrap"
    assert {r["checkpoint"]: r["rating"] for r in battles["ratings"]} == pytest.approx(
        {r["checkpoint"]: r["rating"] for r in board["ratings"]})


def test_repeated_samples_are_one_cluster_and_the_counts_match_sql(serve, tmp_path: Path
                                                                   ) -> None:
    """3 samples per prompt; the scripted judge decides once per prompt, so the samples of a
    prompt agree: per-prompt counts must sum to the per-comparison counts, the bootstrap must
    resample the 40 prompts (not 120 items), and its intervals must be wider than battles'."""
    srv = serve(make_scenario(strength_b=1.0, tie_prob=0.1))
    write_pool(tmp_path / "pool.jsonl", N)
    write_config(tmp_path / "evalkit.toml", srv.base_url, checkpoint_extra="samples = 3")
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    for a, b in (("base", "cand"), ("base", "third"), ("third", "cand")):
        cli_json(["compare", a, b, "--pool", "small"], tmp_path)
    board = cli_json(["leaderboard", "--pool", "small"], tmp_path)
    assert board["prompts"] == N and board["degenerate_rounds"] == 0
    assert {r["n"] for r in board["ratings"]} == {2 * 3 * N}
    assert [c["checkpoints"] for c in board["components"]] == [["cand", "third", "base"]]

    engine = make_engine(f"sqlite:///{tmp_path / 'evalkit.db'}", create=False)
    ids = [p["comparison_id"] for p in board["pairs"]]
    per_prompt = queries.prompt_outcome_counts(engine, ids)
    assert len(per_prompt) == 3 * N and {r.n for r in per_prompt} == {3}
    totals = queries.outcome_counts(engine, ids)
    for cid in ids:
        rows = [r for r in per_prompt if r.comparison_id == cid]
        for key in ("baseline_wins", "ties", "candidate_wins", "n"):
            assert sum(getattr(r, key) for r in rows) == pytest.approx(totals[cid][key])
    db = sqlite3.connect(tmp_path / "evalkit.db")
    ((law,),) = db.execute("""SELECT COUNT(DISTINCT ci.prompt_hash) FROM comparisonitem ci
        JOIN comparison c ON c.id = ci.comparison_id JOIN poolitem pi
        ON pi.pool_id = c.pool_id AND pi.position = ci.position
        WHERE ci.comparison_id = ? AND json_extract(pi.tags_json, '$.category') = 'law'
          AND ci.score IS NOT NULL""", (ids[0],)).fetchall()
    tagged = queries.prompt_outcome_counts(engine, ids[:1], ("category", "law"))
    assert len(tagged) == law == N // 4

    battles = build_leaderboard(engine, "small", "sim", ci="battles")
    width = {r["checkpoint"]: r["ci"][1] - r["ci"][0] for r in board["ratings"]}
    narrow = {r["checkpoint"]: r["ci"][1] - r["ci"][0] for r in battles["ratings"]}
    assert all(width[m] > 1.3 * narrow[m] for m in width), (width, narrow)


def test_the_dashboard_shows_both_components(split_store: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from evalkit.resources import data_dir

    monkeypatch.setenv("EVALKIT_DB", str(split_store / "evalkit.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(data_dir("dashboard") / "app.py"), default_timeout=60)
        at.query_params.update({"pool": "small", "judge": "sim"})
        at.run()
        assert not at.exception, at.exception[0].value if at.exception else ""
        df = at.dataframe[0].value
        assert list(df["component"]) == [1, 1, 1, 2, 2]
        assert list(df["checkpoint"]) == ["cand", "base", "weak", "third", "fourth"]
        assert list(df["note"].fillna("")) == ["no finite MLE: prior"] * 3 + ["", ""]
        warning = " ".join(w.value for w in at.warning)
        assert "2 unconnected components" in warning
        assert "component 1: cand, base, weak; component 2: third, fourth" in warning
        assert any("['weak'] never beat" in i.value for i in at.info)
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
