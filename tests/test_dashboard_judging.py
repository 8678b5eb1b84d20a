"""The dashboard's judging modes with Streamlit's AppTest, on a store filled through the real
CLI: the leaderboard's style-control section (both boards side by side and the fitted
coefficients) and the Grades page (mean score per tag, the paired difference)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from conftest import make_scenario, run_cli, write_config, write_pool
from streamlit.testing.v1 import AppTest

from evalkit.resources import data_dir
from evalkit.testing import ScriptedServer

APP = str(data_dir("dashboard") / "app.py")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("judging-pages")
    scenario = make_scenario(models={"base": {"kind": "chat", "words": 30},
                                     "cand": {"kind": "chat", "words": 90}})
    scenario["models"]["grader"] = {"kind": "grader", "scores": {"base": 4, "cand": 6},
                                    "spread": 1}
    with ScriptedServer(scenario) as srv:
        write_config(tmp / "evalkit.toml", srv.base_url)
        with open(tmp / "evalkit.toml", "a") as fh:
            fh.write(f'\n[graders.g]\nbase_url = "{srv.base_url}"\nmodel = "grader"\n')
        write_pool(tmp / "pool.jsonl", n=20)
        run_cli(["pool", "import", "p", "pool.jsonl"], tmp)
        for a, b in (("base", "cand"), ("cand", "third"), ("base", "third")):
            run_cli(["compare", a, b, "--pool", "p"], tmp)
        run_cli(["grade", "base", "cand", "--pool", "p", "--grader", "g"], tmp)
    yield tmp


@pytest.fixture
def store(filled: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EVALKIT_DB", str(filled / "evalkit.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield filled
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def test_leaderboard_style_control_section(store: Path) -> None:
    at = open_page("views/leaderboard.py")
    frames = len(at.dataframe)
    at.checkbox(key="ek_style").check().run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert at.query_params["style"] in ("1", ["1"])
    board = at.dataframe[frames].value
    assert set(board["checkpoint"]) == {"base", "cand", "third"}
    assert {"rating", "style_rating", "style_ci_low", "style_ci_high", "change"} <= set(
        board.columns)
    coef = at.dataframe[frames + 1].value
    assert list(coef["feature"]) == ["length"]
    assert any("dropped (no variation): headers, lists, bold" in c.value for c in at.caption)


def test_grades_page(store: Path) -> None:
    at = open_page("views/grades.py")
    table = at.dataframe[0].value
    assert set(table["checkpoint"]) == {"base", "cand"} and set(table["n"]) == {20}
    at.selectbox(key="ek_gtag").set_value("category").run()
    table = at.dataframe[0].value
    assert len(table) == 8 and "category=math" in set(table["group"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prompts graded for both"] == "20"
    delta = next(v for k, v in metrics.items() if " − " in k)
    assert delta.startswith("+")  # cand is graded higher


def test_grades_page_without_grades(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.store import make_engine

    make_engine(f"sqlite:///{tmp_path / 'empty.db'}").dispose()
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_page("views/grades.py")
    assert any("evalkit grade" in i.value for i in at.info)
