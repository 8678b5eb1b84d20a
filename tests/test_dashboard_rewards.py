"""The dashboard's Rewards page with Streamlit's AppTest, on a store filled through the real
CLI: score runs of two checkpoints, a reward model vs judge report and an rm-eval run. The
reward distribution per tag, the agreement figures, the strongest disagreement with both
answers side by side, and the accuracy per subset — model text stays inert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from conftest import make_scenario, run_cli, write_config, write_pool
from rm_helpers import rm_table, with_rewards
from streamlit.testing.v1 import AppTest

from evalkit.resources import data_dir
from evalkit.testing import ScriptedServer
from evalkit.testing.rewards import response_hash

APP = str(data_dir("dashboard") / "app.py")
GOOD = ["<b>a careful answer</b>", "right"]
XSS = "Explain <script>alert(1)</script> and **bold** <b>claims</b> step by step"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One store for the page's tests (filled once: six CLI runs)."""
    tmp_path = tmp_path_factory.mktemp("rewards-page")
    models = {"graded": {"rule": "hash", "seed": 2},
              "pairs": {"rule": "chosen", "chosen": [response_hash(g) for g in GOOD]}}
    with ScriptedServer(with_rewards(make_scenario(), models, tei="graded")) as srv:
        fill(tmp_path, srv.base_url)
    yield tmp_path


def fill(tmp_path: Path, url: str) -> None:
    write_config(tmp_path / "evalkit.toml", url)
    with open(tmp_path / "evalkit.toml", "a") as fh:
        fh.write("\n" + rm_table("graded", backend="tei", base_url=url)
                 + "\n" + rm_table("pairs", backend="vllm", base_url=url, model="pairs"))
    write_pool(tmp_path / "pool.jsonl", n=24)
    rows = [json.loads(line) for line in (tmp_path / "pool.jsonl").read_text().splitlines()]
    rows[1]["prompt"] = XSS
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(
        {"prompt": f"q{i}", "chosen": g, "rejected": "wrong", "subset": "tiny"})
        for i, g in enumerate(GOOD)) + "\n")
    run_cli(["pool", "import", "p", "pool.jsonl"], tmp_path)
    for ckpt in ("base", "cand"):
        run_cli(["score", ckpt, "--pool", "p", "--rm", "graded"], tmp_path)
    run_cli(["compare", "base", "cand", "--pool", "p"], tmp_path)
    run_cli(["rm-vs-judge", "base", "cand", "--pool", "p", "--rm", "graded", "--judge", "sim"],
            tmp_path)
    run_cli(["rm-eval", "pairs", "--pairs", "pairs.jsonl"], tmp_path)


@pytest.fixture
def store(filled: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EVALKIT_DB", str(filled / "evalkit.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield filled
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/rewards.py")
    at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def test_rewards_page(store: Path) -> None:
    at = open_page()
    dist = at.dataframe[0].value
    assert set(dist["checkpoint"]) == {"base", "cand"} and set(dist["n"]) == {24}
    at.selectbox(key="ek_rtag").set_value("category").run()
    dist = at.dataframe[0].value
    assert len(dist) == 8 and "category=math" in set(dist["group"])
    assert at.query_params["rtag"] == "category"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prompts"] == "24" and "Cohen's kappa" in metrics
    disagreements = at.dataframe[2].value
    assert len(disagreements) >= 1 and set(disagreements["reward model"]) <= {"win", "loss"}
    code = [c.value for c in at.code]
    assert any(c.startswith("[sim model=base") for c in code)
    assert any(c.startswith("[sim model=cand") for c in code)
    subsets = at.dataframe[-1].value
    assert list(subsets["subset"]) == ["overall", "tiny"] and subsets["accuracy"][0] == 1.0
    rendered = " ".join(m.value for m in at.markdown)
    assert "<script>" not in rendered and "<b>" not in rendered


def test_the_page_shows_prompt_text_inert(store: Path) -> None:
    at = open_page()
    rows = at.dataframe[2].value
    keys = [f"{p}:0" for p in rows["position"]]
    box = at.selectbox(key="ek_ritem")
    for key in keys:
        box.set_value(key).run()
        if any(XSS == c.value for c in at.code):
            break
    else:
        pytest.skip("the XSS prompt is not among this run's disagreements")
    rendered = " ".join(m.value for m in at.markdown)
    assert "<script>" not in rendered


def test_rewards_page_without_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    from evalkit.store import make_engine

    make_engine(f"sqlite:///{tmp_path / 'empty.db'}").dispose()
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_page()
    assert any("evalkit score" in i.value for i in at.info)
