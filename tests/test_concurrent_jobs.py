"""Concurrent jobs on one store: compares sharing checkpoints write at once while the
comparisons list, the leaderboard, the dashboard's queries and a gate read — on SQLite and on
PostgreSQL. Nothing fails, nothing waits on 'database is locked', and no generation or
judgment is requested twice across the processes (the request leases)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_scenario, run_cli, write_config, write_pool

from evalkit.store import dashboard_queries as dq
from evalkit.store import make_engine

N = 100
# three pairs sharing checkpoints, and the first pair again the other way round: it needs
# exactly the judgments of the first (both orders), so judgments are contended too
PAIRS = [("base", "cand"), ("base", "third"), ("cand", "third"), ("cand", "base")]
GATE = """
[gate]
baseline = "gbase"
pool = "gp"
min_valid = 10
tag_min_valid = 5
"""


def _setup(serve, tmp_path: Path, db: str):  # type: ignore[no-untyped-def]
    strengths = {"base": 0.0, "cand": 0.6, "third": 0.3, "gbase": 0.0, "gcand": 0.2}
    srv = serve(make_scenario(latency=0.03, models={"gbase": {"kind": "chat"},
                                                    "gcand": {"kind": "chat"}},
                              judge={"strengths": strengths}))
    write_pool(tmp_path / "pool.jsonl", N)
    write_pool(tmp_path / "gp.jsonl", 24)
    cfg = write_config(tmp_path / "evalkit.toml", srv.base_url,
                       checkpoints=("base", "cand", "third", "gbase", "gcand"))
    cfg.write_text(cfg.read_text() + GATE)
    run_cli(["pool", "import", "small", "pool.jsonl", "--db", db], tmp_path)
    run_cli(["pool", "import", "gp", "gp.jsonl", "--db", db], tmp_path)
    # the gate's pair is judged beforehand: the gate only reads (and records its run) later
    run_cli(["compare", "gbase", "gcand", "--pool", "gp", "--db", db], tmp_path)
    srv.reset()
    return srv


def _readers(tmp_path: Path, db: str, url: str, running) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Read the store every way users do until the compares finish; each read must work."""
    engine = make_engine(url, create=False)
    done: dict[str, int] = {"comparisons": 0, "leaderboard": 0, "gate": 0, "dashboard": 0}
    while running():
        out = run_cli(["comparisons", "--db", db], tmp_path)
        done["comparisons"] += 1
        board = run_cli(["leaderboard", "--pool", "small", "--json", "--db", db], tmp_path,
                        check=False)
        # with fewer than two comparisons stored there is nothing to rate yet: a clean exit 2
        assert board.returncode in (0, 2) and "Traceback" not in board.stderr, board.stderr
        done["leaderboard"] += 1
        gate = run_cli(["gate", "gcand", "--json", "--db", db], tmp_path, check=False)
        assert gate.returncode in (0, 1, 2) and "Traceback" not in gate.stderr, gate.stderr
        assert json.loads(gate.stdout)["decision"] in ("pass", "regression", "inconclusive")
        done["gate"] += 1
        for cmp in dq.comparisons(engine, "small"):
            dq.sample_page(engine, cmp["id"])
            dq.provenance(engine, cmp["id"])
        dq.pools_overview(engine)
        done["dashboard"] += 1
        for text in (out.stderr, board.stderr, gate.stderr):
            assert "locked" not in text, text
    engine.dispose()
    return done


@pytest.mark.slow
def test_compares_sharing_checkpoints_never_pay_twice(serve, tmp_path: Path,
                                                            store_url: str) -> None:
    db = str(tmp_path / "store.db") if store_url.startswith("sqlite") else store_url
    srv = _setup(serve, tmp_path, db)
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen([sys.executable, "-m", "evalkit", "compare", a, b, "--pool",
                               "small", "--json", "--db", db], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for a, b in PAIRS]
    started = time.monotonic()
    reads = _readers(tmp_path, db, store_url,
                     lambda: any(p.poll() is None for p in procs)
                     and time.monotonic() - started < 120)
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
        summary = json.loads(out)
        assert summary["overall"]["n"] == N and summary["overall"]["failed"] == 0
    assert reads["gate"] >= 1 and reads["dashboard"] >= 1

    stats = srv.stats()
    by_model = stats["by_model"]
    assert stats["completed_repeats"] == 0, stats
    # one request per distinct key across the four processes: each checkpoint answers every
    # prompt once, the judge judges each of the 3 pairs in both orders once
    for model in ("base", "cand", "third"):
        assert by_model[model]["requests"] == by_model[model]["completed"] == N, by_model
    assert by_model["judge"]["requests"] == by_model["judge"]["completed"] == 6 * N, by_model
    assert "gbase" not in by_model and "gcand" not in by_model  # the gate only read
    engine = make_engine(store_url, create=False)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM lease").scalar() == 0
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM generation").scalar() == 3 * N + 48
    engine.dispose()
