"""The CLI's other commands, start-up hygiene and packaging."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import cli_json, run_cli

from evalkit.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_offline_and_the_truth_is_inside_the_ci(tmp_path: Path) -> None:
    out = cli_json(["demo", "--db", "demo.db"], tmp_path)
    assert out["pool"]["name"] == "rlhf_prompts" and out["pool"]["prompts"] >= 300
    truth = out["simulated"]["true_win_rate"]
    lo, hi = out["overall"]["ci"]
    assert out["simulated"]["covered"] is True and lo <= truth <= hi
    assert out["overall"]["failed"] == 0 and out["overall"]["n"] == out["pool"]["prompts"]
    assert len(out["by_tag"]["category"]) >= 10
    assert (tmp_path / "demo.db").exists()
    table = run_cli(["demo", "--db", "demo.db"], tmp_path).stdout
    assert "SIMULATED MODELS" in table and "evalkit init" in table and "inside" in table


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    run_cli(["init"], tmp_path)
    cfg = load_config(tmp_path / "evalkit.toml")
    assert set(cfg.checkpoints) == {"sft-v3", "rlhf-r1"}
    assert cfg.judges["default"].template == "pairwise" and cfg.defaults.pool == "rlhf_prompts"
    proc = run_cli(["init"], tmp_path, check=False)
    assert proc.returncode == 2 and "exists" in proc.stderr
    # every optional section it shows commented out loads too, once uncommented
    text = (tmp_path / "evalkit.toml").read_text()
    head, tail = text.split("# ---- optional sections", 1)
    settings = [line[2:] for line in tail.splitlines()[1:]
                if line.startswith("# ") and not line[2:3].isupper()]
    (tmp_path / "full.toml").write_text(head + "\n".join(settings) + "\n")
    full = load_config(tmp_path / "full.toml")
    assert full.judges["panel"].panel == ("default", "rm:skywork")
    assert set(full.reward_models) == {"skywork"} and set(full.classifiers) == {"tagger"}
    assert full.gate.margin == 0.02 and full.watch is not None


def test_csv_import_with_field_mapping_and_tags(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(
        "qid,question,topic,answer\n1,What is 2+2?,math,4\n2,Name a prime.,math,\n"
        "3,Define tort.,law,\n", encoding="utf-8")
    info = cli_json(["pool", "import", "csvpool", "p.csv", "--id-field", "qid",
                     "--prompt-field", "question", "--reference-field", "answer",
                     "--tag", "topic"], tmp_path)
    assert info["prompts"] == 3 and info["created"] is True
    shown = cli_json(["pool", "show", "csvpool"], tmp_path)
    assert shown["tags"] == {"topic": {"law": 1, "math": 2}} and shown["with_reference"] == 1


def test_non_utf8_pool_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_bytes(b'{"id": "a", "prompt": "ok"}\n{"id": "b", '
                                         b'"prompt": "caf\xe9"}\n')
    proc = run_cli(["pool", "import", "x", "bad.jsonl"], tmp_path, check=False)
    assert proc.returncode == 2 and "bad.jsonl:2" in proc.stderr and "UTF-8" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys, evalkit.cli.main\n"
            "heavy = [m for m in ('pandas', 'scipy', 'datasets', 'openai', 'aiohttp', "
            "'sqlalchemy', 'sqlmodel', 'numpy', 'streamlit') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_wheel_ships_pools_judges_and_dashboard(tmp_path: Path) -> None:
    """A non-editable install must carry the shipped data: build the wheel and use it."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("evalkit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for needed in ("evalkit/_data/suites/pools/rlhf_prompts.jsonl",
                   "evalkit/_data/judges/pairwise.toml", "evalkit/_data/judges/graded.toml",
                   "evalkit/_data/dashboard/README.md", "evalkit/cli/main.py"):
        assert needed in names
    code = ("import evalkit.resources as r, json; from evalkit.judging.templates import "
            "load_template; print(json.dumps([str(r.data_dir('suites')), "
            "sorted(r.shipped_pools()), load_template('graded').format]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    suites, pools, fmt = json.loads(out.stdout)
    assert suites.startswith(str(tmp_path / "site")) and "rlhf_prompts" in pools
    assert fmt == "graded"
