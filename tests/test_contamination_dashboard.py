"""The dashboard's Contamination page with Streamlit's AppTest, on a store filled through the
real CLI: a pool (one prompt carries HTML and script), a corpus with planted copies, a scan
and a comparison. Rates, clean vs full, the dirtiest items with their spans marked in plain
text — the HTML stays inert text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from conftest import make_scenario, run_cli, write_config
from streamlit.testing.v1 import AppTest

from evalkit.resources import data_dir

APP = str(data_dir("dashboard") / "app.py")
XSS = "Explain <script>alert(1)</script> and **bold** <b>claims</b> about the zeta river delta"


@pytest.fixture
def store(tmp_path: Path, serve, monkeypatch: pytest.MonkeyPatch) -> Path:
    srv = serve(make_scenario())
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    rows = [{"id": f"q{i}", "prompt": f"Question {i}: how do rivers number {i} form "
             f"deltas in region {i * 7}?", "tags": {"topic": "geo" if i % 2 else "misc"}}
            for i in range(12)]
    rows[3]["prompt"] = XSS
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run_cli(["pool", "import", "geo", "pool.jsonl"], tmp_path)
    (tmp_path / "crawl.txt").write_text(
        "header line\n" + XSS.upper() + "\n" + rows[5]["prompt"] + " and more\n")
    run_cli(["contamination", "scan", "--pool", "geo", "--corpus", "crawl.txt"], tmp_path)
    run_cli(["compare", "base", "cand", "--pool", "geo"], tmp_path)
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "evalkit.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/contamination.py")
    at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def test_contamination_page(store: Path) -> None:
    at = open_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Items"] == "12" and metrics["Dirty"] == "2" and metrics["Clean"] == "10"
    rates = at.dataframe[0].value.set_index("group")
    assert rates.loc["topic=geo", "dirty"] == 2 and rates.loc["topic=misc", "dirty"] == 0
    assert "Win rate, clean (10)" in metrics and "Gain (full − clean)" in metrics
    dirtiest = at.dataframe[1].value
    assert set(dirtiest["item_id"]) == {"q3", "q5"}
    at.selectbox(key="ek_citem").set_value("3").run()
    code = [c.value for c in at.code]
    assert any(c.startswith("⟦Explain <script>alert(1)</script> and **bold**") for c in code)
    rendered = " ".join(m.value for m in at.markdown)
    assert "<script>" not in rendered and "<b>claims" not in rendered
    assert at.query_params["citem"] == "3"


def test_contamination_page_without_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    from evalkit.store import make_engine

    make_engine(f"sqlite:///{tmp_path / 'empty.db'}").dispose()
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.db"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_page()
    assert any("evalkit contamination scan" in i.value for i in at.info)
