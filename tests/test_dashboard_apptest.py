"""The dashboard with Streamlit's AppTest, on a store filled by REAL `evalkit compare` runs (the
CLI in a subprocess) against the scripted OpenAI-compatible server: a chain base → mid → top,
plus an imported comparison whose responses and judge rationale contain HTML and script."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from conftest import run_cli, write_pool
from streamlit.testing.v1 import AppTest

from evalkit.resources import data_dir
from evalkit.testing import ScriptedServer

APP = str(data_dir("dashboard") / "app.py")
N = 40
XSS_RESPONSE = ("Here is my answer. <script>alert(1)</script> "
                "<img src=x onerror=\"document.title='pwned'\"> **not bold** done.")
XSS_RATIONALE = "Answer B is better. <script>document.title='pwned'</script> [[B]]"
_STORE: dict[str, Any] = {}


def _config(path: Path, base_url: str) -> None:
    parts = ['[store]\nurl = "sqlite:///evalkit.db"\n']
    for name in ("base", "mid", "top"):
        parts.append(f'[checkpoints.{name}]\nbackend = "openai"\nbase_url = "{base_url}"\n'
                     f'model = "{name}"\nmax_concurrency = 16\ntimeout = 10\nmax_retries = 2\n'
                     'sampling = { temperature = 0.0, max_tokens = 256, seed = 0 }\n')
    parts.append(f'[judges.sim]\nbase_url = "{base_url}"\nmodel = "judge"\n'
                 'max_concurrency = 16\ntimeout = 10\nmax_retries = 0\n'
                 'reask_invalid = false\n')
    parts.append('[defaults]\njudge = "sim"\n')
    path.write_text("\n".join(parts), encoding="utf-8")


def _html_bundle() -> Any:
    from evalkit.importers import ImportBundle, ImportedJudgment
    from evalkit.pools import PoolPrompt

    prompts = [PoolPrompt(id=f"h{i}", messages=({"role": "user", "content":
                                                 f"Show me some HTML, case {i} <b>bold?</b>"},),
                          tags={"category": "html"}) for i in range(3)]
    outputs = {"html-a": {p.id: f"plain answer {p.id}" for p in prompts},
               "html-b": {p.id: XSS_RESPONSE for p in prompts}}
    judgments = [ImportedJudgment(judge="imported-judge", prompt_id=p.id, model_first=first,
                                  model_second=second, label="B" if first == "html-a" else "A",
                                  strength=1, raw=XSS_RATIONALE)
                 for p in prompts for first, second in (("html-a", "html-b"),
                                                        ("html-b", "html-a"))]
    return ImportBundle(source="alpaca_eval", pool_name="htmlpool", prompts=prompts,
                        outputs=outputs, judgments=judgments)


def build_dashboard_store(root: Path) -> dict[str, Any]:
    """Fill a store with real CLI runs (once per test session; both dashboard test modules
    share it)."""
    if _STORE:
        return _STORE
    from evalkit.importing import store_bundle
    from evalkit.store import make_engine

    root.mkdir(parents=True, exist_ok=True)
    scenario = {"latency": 0.0, "models": {
        "base": {"kind": "chat"}, "mid": {"kind": "chat", "words": 80},
        "top": {"kind": "chat", "words": 100},
        "judge": {"kind": "judge", "strengths": {"base": 0.0, "mid": 0.8, "top": 1.6},
                  "tie_prob": 0.1, "position_bias": 0.15, "invalid_rate": 0.05,
                  "failures": {"rate": 0.03, "status": 502}}}}
    with ScriptedServer(scenario) as srv:
        _config(root / "evalkit.toml", srv.base_url)
        write_pool(root / "pool.jsonl", N)
        run_cli(["pool", "import", "small", "pool.jsonl"], root)
        runs = {}
        for base, cand in (("base", "mid"), ("mid", "top"), ("base", "top")):
            out = run_cli(["compare", base, cand, "--pool", "small", "--json"], root)
            runs[(base, cand)] = json.loads(out.stdout)
    db = root / "evalkit.db"
    info = store_bundle(make_engine(f"sqlite:///{db}"), _html_bundle())
    _STORE.update(db=db, runs=runs, html=info["comparisons"][0])
    return _STORE


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_dashboard_store(tmp_path_factory.getbasetemp() / "dashboard-store")


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch, store: dict[str, Any]):
    monkeypatch.setenv("EVALKIT_DB", str(store["db"]))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(view: str | None = None, /, **params: str) -> AppTest:
    """The app on ``view`` (a file under dashboard/views) with URL query parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.run()
    if view is not None:
        at.query_params.update(params)
        at.switch_page(f"views/{view}.py")
        at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "subheader", "caption", "info", "markdown",
                                  "code", "success", "warning", "error")
             for e in getattr(at, kind)]
    parts += [m.label + " " + str(m.value) for m in at.metric]
    return "\n".join(map(str, parts))


def db_rows(store: dict[str, Any], sql: str, *args: Any) -> list[tuple]:
    with sqlite3.connect(store["db"]) as db:
        return db.execute(sql, args).fetchall()


# --------------------------------------------------------------------------- leaderboard

def test_leaderboard_matches_build_leaderboard_and_sorts(store: dict[str, Any]) -> None:
    from evalkit.leaderboard import build_leaderboard
    from evalkit.store import make_engine

    at = open_page(pool="small", judge="sim")
    expected = build_leaderboard(make_engine(f"sqlite:///{store['db']}", create=False),
                                 "small", "sim", rounds=200, seed=0)
    df = at.dataframe[0].value
    assert list(df["checkpoint"]) == [r["checkpoint"] for r in expected["ratings"]]
    for r, (_, row) in zip(expected["ratings"], df.iterrows(), strict=True):
        assert row["rating"] == pytest.approx(r["rating"], abs=0.05)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(r["ci"], abs=0.05)
        assert row["rank"] == r["rank"] and row["n"] == r["n"]
        assert row["avg_length"] == pytest.approx(r["avg_length"], abs=0.5)
    assert df.iloc[0]["checkpoint"] == "top"  # the scripted judge's strongest
    assert len(at.get("vega_lite_chart")) == 3  # forest plot and the two heatmaps
    assert {b.label for b in at.get("download_button")} >= {
        "Download leaderboard (CSV)", "Download leaderboard pairs (CSV)"}

    at.selectbox(key="ek_sort").set_value("checkpoint").run()
    assert list(at.dataframe[0].value["checkpoint"]) == ["base", "mid", "top"]
    assert at.query_params["sort"] == "checkpoint"


def test_leaderboard_tag_filter_refits_on_the_tagged_prompts(store: dict[str, Any]) -> None:
    at = open_page(pool="small", judge="sim", tag="category=math")
    assert at.selectbox(key="ek_tag").value == "category=math"
    df = at.dataframe[0].value.set_index("checkpoint")
    # battles per checkpoint: valid (scored) math prompts over the comparisons it is in
    rows = db_rows(store, """
        SELECT c.baseline, c.candidate, COUNT(*) FROM comparisonitem ci
        JOIN comparison c ON c.id = ci.comparison_id
        JOIN pool p ON p.id = c.pool_id AND p.name = 'small'
        JOIN poolitem pi ON pi.pool_id = c.pool_id AND pi.position = ci.position
        WHERE ci.score IS NOT NULL AND json_extract(pi.tags_json, '$.category') = 'math'
        GROUP BY c.id""")
    n: dict[str, int] = {}
    for base, cand, k in rows:
        n[base] = n.get(base, 0) + k
        n[cand] = n.get(cand, 0) + k
    assert df["n"].to_dict() == n
    assert "prompts with category=math" in texts(at)
    everything = open_page(pool="small", judge="sim").dataframe[0].value
    assert everything["n"].sum() > df["n"].sum()


# --------------------------------------------------------------------------- compare

def test_compare_shows_the_stored_summary(store: dict[str, Any]) -> None:
    run = store["runs"][("mid", "top")]
    at = open_page("compare", pool="small", judge="sim", comparison=run["comparison_id"])
    assert at.selectbox(key="ek_baseline").value == "mid"
    assert at.selectbox(key="ek_candidate").value == "top"
    o = run["overall"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Win rate"] == f"{o['win_rate']:.1%}"
    assert (metrics["Wins"], metrics["Ties"], metrics["Losses"]) == (
        str(o["wins"]), str(o["ties"]), str(o["losses"]))
    assert (metrics["Invalid"], metrics["Failed"]) == (str(o["invalid"]), str(o["failed"]))
    assert f"[{o['ci'][0]:.1%}, {o['ci'][1]:.1%}]" in texts(at)
    lc = o["length_controlled"]
    assert metrics["Length-controlled win rate"] == f"{lc['win_rate']:.1%}"
    by_tag = at.dataframe[1].value.set_index("value")
    for value, block in run["by_tag"]["category"].items():
        assert by_tag.loc[value, "win_rate"] == pytest.approx(block["win_rate"])
        if block["p_holm"] is not None:
            assert by_tag.loc[value, "p_holm"] == pytest.approx(block["p_holm"])
    assert len(at.get("vega_lite_chart")) == 1  # the per-tag forest plot
    # mid vs top has no earlier comparison with baseline mid
    assert "No earlier comparison with baseline mid" in texts(at)


def test_compare_lists_prompts_that_changed_since_the_previous_candidate(
        store: dict[str, Any]) -> None:
    at = open_page("compare", pool="small", judge="sim")
    at.selectbox(key="ek_baseline").set_value("base").run()
    at.selectbox(key="ek_candidate").set_value("top").run()
    assert not at.exception
    current = store["runs"][("base", "top")]["comparison_id"]
    previous = store["runs"][("base", "mid")]["comparison_id"]
    assert at.query_params["comparison"] == current
    expected = db_rows(store, """
        SELECT a.item_id, b.outcome, a.outcome FROM comparisonitem a
        JOIN comparisonitem b ON b.comparison_id = ? AND b.item_id = a.item_id
        WHERE a.comparison_id = ? AND a.outcome != b.outcome ORDER BY a.position""",
                       previous, current)
    assert expected, "the scripted judge should change some outcomes from mid to top"
    changed = at.dataframe[-1].value
    assert list(changed["item_id"]) == [r[0] for r in expected]
    assert list(changed["before: mid vs base"]) == [r[1] for r in expected]
    assert list(changed["now: top vs base"]) == [r[2] for r in expected]
    assert f"{len(expected)} prompts changed outcome" in texts(at)


# --------------------------------------------------------------------------- samples

def test_samples_filters_paging_and_side_by_side(store: dict[str, Any]) -> None:
    run = store["runs"][("base", "mid")]
    cid = run["comparison_id"]
    at = open_page("samples", pool="small", judge="sim", comparison=cid)
    assert len(at.dataframe[0].value) == 25
    at.number_input(key="ek_page").set_value(2).run()
    page2 = at.dataframe[0].value
    assert len(page2) == N - 25 and page2["position"].min() == 25
    assert at.query_params["page"] == "2"

    at.multiselect(key="ek_outcome").set_value(["win"]).run()
    wins = at.dataframe[0].value
    assert at.number_input(key="ek_page").value == 1  # a new filter starts at page 1
    assert set(wins["outcome"]) == {"win"} and len(wins) == min(25, run["overall"]["wins"])
    assert f"{run['overall']['wins']} of {N} prompts match" in texts(at)
    assert at.query_params["outcome"] == "win"

    at.multiselect(key="ek_outcome").set_value([]).run()
    at.checkbox(key="ek_flipped").check().run()
    flipped = at.dataframe[0].value
    ((expected,),) = db_rows(store, """
        SELECT COUNT(*) FROM comparisonitem ci
        JOIN judgment jc ON jc.key = ci.judgment_cand_first
        JOIN judgment jb ON jb.key = ci.judgment_base_first
        WHERE ci.comparison_id = ? AND jc.verdict IN ('A', 'B', 'tie')
          AND jb.verdict IN ('A', 'B', 'tie')
          AND (CASE jc.verdict WHEN 'A' THEN 1 WHEN 'B' THEN -1 ELSE 0 END)
           != (CASE jb.verdict WHEN 'A' THEN -1 WHEN 'B' THEN 1 ELSE 0 END)""", cid)
    assert expected > 0 and flipped["flipped"].all()
    assert len(flipped) == min(25, expected) and f"{expected} of {N} prompts match" in texts(at)

    at.checkbox(key="ek_flipped").uncheck().run()
    at.selectbox(key="ek_tag").set_value("category=law").run()
    assert len(at.dataframe[0].value) == N // 4
    assert at.dataframe[0].value["tags"].str.contains("category=law").all()
    at.selectbox(key="ek_tag").set_value("all").run()
    at.text_input(key="ek_q").input("Question 7 about").run()
    assert list(at.dataframe[0].value["item_id"]) == ["q007"]

    # the chosen prompt: both responses verbatim, both verdicts and the judge's rationale
    (gb, gc, jc) = db_rows(store, """
        SELECT gb.response, gc.response, j.raw_output FROM comparisonitem ci
        JOIN generation gb ON gb.key = ci.gen_baseline
        JOIN generation gc ON gc.key = ci.gen_candidate
        LEFT JOIN judgment j ON j.key = ci.judgment_cand_first
        WHERE ci.comparison_id = ? AND ci.item_id = 'q007'""", cid)[0]
    codes = [c.value for c in at.code]
    assert gb in codes and gc in codes
    assert jc is None or jc in codes
    assert "Baseline: base" in texts(at) and "Candidate: mid" in texts(at)
    assert at.query_params["q"] == "Question 7 about"


def test_model_html_is_shown_as_text_never_as_markup(store: dict[str, Any]) -> None:
    html = store["html"]
    at = open_page("samples", pool="htmlpool", judge="imported-judge",
                   comparison=html["comparison_id"])
    codes = [c.value for c in at.code]
    assert XSS_RESPONSE in codes and XSS_RATIONALE in codes
    for el in at.markdown:  # nothing with model text goes through (unsafe) Markdown
        assert "<script" not in el.value and "onerror" not in el.value
        assert not el.proto.allow_html
    assert not any(getattr(e.proto, "allow_html", False) for e in at.caption)


# --------------------------------------------------------------------------- trajectory

def test_trajectory_follows_the_chain(store: dict[str, Any]) -> None:
    from evalkit.leaderboard import build_leaderboard
    from evalkit.store import make_engine

    at = open_page("trajectory", pool="small", judge="sim")
    assert at.selectbox(key="ek_end").value == "top"
    df = at.dataframe[0].value
    assert list(df["checkpoint"]) == ["base", "mid", "top"]
    runs = store["runs"]
    for step, key in ((1, ("base", "mid")), (2, ("mid", "top"))):
        o = runs[key]["overall"]
        assert df.loc[step, "win_rate_vs_previous"] == pytest.approx(o["win_rate"])
        assert [df.loc[step, "win_rate_ci_low"], df.loc[step, "win_rate_ci_high"]] == \
            pytest.approx(o["ci"])
        assert df.loc[step, "comparison"] == runs[key]["comparison_id"]
    board = build_leaderboard(make_engine(f"sqlite:///{store['db']}", create=False),
                              "small", "sim", rounds=200, seed=0)
    ratings = {r["checkpoint"]: r["rating"] for r in board["ratings"]}
    assert list(df["rating"]) == pytest.approx([ratings[c] for c in df["checkpoint"]],
                                               abs=0.05)
    assert len(at.get("vega_lite_chart")) == 2
    assert "base → mid → top" in texts(at)


def test_chains_prefer_the_longest_time_ordered_chain() -> None:
    import sys

    sys.path.insert(0, str(data_dir("dashboard")))
    from ekdash.data import chains

    def c(i: int, a: str, b: str) -> dict[str, Any]:
        return {"id": str(i), "baseline": a, "candidate": b, "created_at": f"2025-01-0{i}"}

    comps = [c(1, "sft", "r1"), c(2, "r1", "r2"), c(3, "sft", "r2"), c(4, "r2", "r3"),
             c(5, "r1", "r2"), c(6, "r3", "sft")]
    out = chains(comps)
    assert [x["id"] for x in out["r3"]] == ["1", "2", "4"]  # longer than sft → r2 → r3
    assert [x["id"] for x in out["r2"]] == ["1", "5"]  # a re-run replaces the older step
    assert [x["id"] for x in out["sft"]] == ["6"]  # … → r3 → sft would revisit sft


# --------------------------------------------------------------------------- provenance

def test_provenance_shows_specs_timings_tokens_and_failures(store: dict[str, Any]) -> None:
    run = store["runs"][("base", "mid")]
    cid = run["comparison_id"]
    at = open_page("provenance", pool="small", judge="sim", comparison=cid)
    body = texts(at)
    assert '"model": "judge"' in body  # judge spec
    template = json.loads(db_rows(store, "SELECT template_text FROM judgespec "
                                         "WHERE name = 'sim'")[0][0])
    assert template["user"] in [c.value for c in at.code]  # the template text, verbatim
    assert '"temperature": 0.0' in body and '"max_tokens": 256' in body  # sampling settings
    facts = dict(at.dataframe[1].value[["field", "value"]].values)
    assert facts["pool version"] == run["pool"]["version"]
    assert facts["evalkit version"] == run["evalkit_version"]
    usage = at.dataframe[2].value.set_index("what")
    (ptok, ctok) = db_rows(store, """
        SELECT SUM(g.prompt_tokens), SUM(g.completion_tokens) FROM comparisonitem ci
        JOIN generation g ON g.key = ci.gen_candidate WHERE ci.comparison_id = ?""", cid)[0]
    row = usage.loc["candidate generations (mid)"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (ptok, ctok)
    errors = db_rows(store, """
        SELECT j.error, COUNT(*) FROM comparisonitem ci JOIN judgment j
          ON j.key IN (ci.judgment_cand_first, ci.judgment_base_first)
        WHERE ci.comparison_id = ? AND j.error IS NOT NULL GROUP BY j.error""", cid)
    assert usage.loc["judge (sim)", "failed"] == sum(n for _, n in errors)
    if errors:
        shown = at.dataframe[-1].value
        assert "HTTP 502" in " ".join(shown["error"]) and shown["count"].sum() == sum(
            n for _, n in errors)
    overview = at.dataframe[0].value
    assert set(overview["id"]) >= {r["comparison_id"] for r in store["runs"].values()}


# --------------------------------------------------------------------------- state and empties

def test_selection_is_kept_in_the_url_and_restored_from_it(store: dict[str, Any]) -> None:
    run = store["runs"][("base", "top")]
    at = open_page("samples", pool="small", judge="sim", comparison=run["comparison_id"],
                   outcome="loss,tie", page="1", size="50")
    assert at.selectbox(key="ek_comparison").value == run["comparison_id"]
    assert at.multiselect(key="ek_outcome").value == ["loss", "tie"]
    assert set(at.dataframe[0].value["outcome"]) <= {"loss", "tie"}
    params = dict(at.query_params)
    assert {k: params[k] for k in ("pool", "judge", "comparison", "outcome", "size")} == {
        "pool": "small", "judge": "sim", "comparison": run["comparison_id"],
        "outcome": "loss,tie", "size": "50"}
    # a pool/judge switch in the sidebar is reflected in the URL too
    at.selectbox(key="ek_pool").set_value("htmlpool").run()
    assert at.query_params["pool"] == "htmlpool"
    assert at.query_params["judge"] == "imported-judge"


@pytest.mark.parametrize("page", [None, "compare", "samples", "trajectory", "provenance"])
def test_pages_without_data_say_which_command_fills_them(
        page: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.store import make_engine

    make_engine(f"sqlite:///{tmp_path / 'empty.db'}").dispose()  # tables, no comparisons
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.db"))
    at = open_page(page)
    assert "evalkit compare A B --pool P" in at.info[0].value


def test_missing_store_and_no_store_are_explained(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "nothing-here.db"))
    at = open_page()
    assert "No store at" in at.info[0].value and "evalkit compare" in at.info[0].value
    assert not (tmp_path / "nothing-here.db").exists()  # the dashboard never creates one
    monkeypatch.delenv("EVALKIT_DB")
    at = open_page("samples")
    assert "evalkit dashboard --db PATH" in at.info[0].value


def test_launch_command_binds_to_loopback_and_passes_the_store(tmp_path: Path) -> None:
    from evalkit.dashboard_launch import app_path, command

    cmd = command("rel/evalkit.db", port=8765)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(app_path())
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert cmd[-3:] == ["--", "--db", f"sqlite:///{Path('rel/evalkit.db').resolve()}"]
    assert command("postgresql://u@h/db", host="0.0.0.0")[-1] == "postgresql://u@h/db"
