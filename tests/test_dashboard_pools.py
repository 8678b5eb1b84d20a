"""The dashboard's Pools page with Streamlit's AppTest, on a store holding a pool, its
annotated version (scripted classifier) and planted comparisons: the figures are those of
``pool stats`` and ``pool hardness``; tags show their source; a store without pools says
which command fills the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_curation_hardness import plant, planted_prompts

from evalkit.config import parse_config
from evalkit.curation.annotate import annotate_pool
from evalkit.curation.classifier import load_classifier_template
from evalkit.curation.hardness import pool_hardness
from evalkit.curation.pool_stats import pool_stats
from evalkit.curation.taxonomy import load_taxonomy
from evalkit.resources import data_dir
from evalkit.store import make_engine, queries
from evalkit.testing import ScriptedServer

APP = str(data_dir("dashboard") / "app.py")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("pools-page") / "s.db"
    engine = make_engine(f"sqlite:///{db}")
    plant(engine, "planted", planted_prompts())
    with ScriptedServer({"models": {"clf": {"kind": "classifier"}}}) as srv:
        cfg = parse_config({"classifiers": {"clf": {"base_url": srv.base_url,
                                                    "model": "clf"}}})
        report = annotate_pool(engine, "planted", cfg.classifier("clf"),
                               load_classifier_template(), load_taxonomy())
    return {"db": db, "engine": engine, "version": report.version}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, store: dict[str, Any]):
    monkeypatch.setenv("EVALKIT_DB", str(store["db"]))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_pools(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.run()
    at.query_params.update(params)
    at.switch_page("views/pools.py")
    at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def frame_with(at: AppTest, column: str) -> Any:
    """The first table on the page with ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_pool_page_shows_stats_tags_and_hardness(store: dict[str, Any]) -> None:
    at = open_pools(ppool="planted")
    pool = queries.find_pool(store["engine"], "planted")
    assert pool is not None and pool.version == store["version"]
    assert at.selectbox(key="ek_pversion").value == store["version"]
    expected = pool_stats(queries.pool_prompts(store["engine"], pool.id)).to_dict()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prompts"] == "80"
    assert metrics["Duplicate rate"] == f"{expected['duplicates']['rate']:.1%}"
    assert metrics["Topic entropy"] == f"{expected['diversity']['entropy_bits']:.2f} bits"
    assert metrics["Effective topics"] == str(expected["diversity"]["effective_topics"])
    assert at.selectbox(key="ek_ptag").value == "topic"  # the human topic tag
    steps = frame_with(at, "step")
    assert list(steps["step"]) == ["annotate"] and "name=clf" in steps["parameters"][0]
    tags = frame_with(at, "entropy_bits").set_index("tag")
    assert tags.loc["topic", "source"] == "human"
    assert tags.loc["llm.topic", "source"] == "classifier"
    at.selectbox(key="ek_ptag").set_value("llm.difficulty").run()
    assert not at.exception and at.query_params["ptag"] == "llm.difficulty"
    counts = frame_with(at, "value").set_index("value")["prompts"].to_dict()
    assert counts == expected["tags"]["llm.difficulty"]["values"]

    hard = pool_hardness(store["engine"], "planted")
    captions = "\n".join(c.value for c in at.caption)
    assert f"{hard.saturated} saturated" in captions and "6 stored pairs" in captions
    table = frame_with(at, "discrimination")
    assert len(table) == 80 and list(table["id"][:40]) == [h.id for h in hard.prompts[:40]]
    assert table["saturated"].sum() == 40
    assert len(at.get("vega_lite_chart")) == 5  # tag bars, lengths, languages, hardness x2
    # the version before annotation: no llm tags, and how the later one was made is shown
    at.selectbox(key="ek_pversion").set_value(
        next(v for v in at.selectbox(key="ek_pversion").options
             if not v.startswith(store["version"])).split(" ")[0]).run()
    assert not at.exception
    assert "llm.topic" not in set(frame_with(at, "entropy_bits")["tag"])
    assert not any("step" in d.value.columns for d in at.dataframe)  # imported, not derived


def test_empty_store_says_which_command_fills_the_page(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    make_engine(f"sqlite:///{tmp_path / 'empty.db'}").dispose()
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.db"))
    at = open_pools()
    assert "evalkit pool import NAME FILE" in at.info[0].value
