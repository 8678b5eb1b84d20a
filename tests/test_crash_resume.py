"""A run killed midway loses nothing it completed: the next run finishes the job and asks
the server only for what was not yet stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

N = 120


def stored(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path)
    gens = dict(db.execute(
        "select c.name, count(*) from generation g join checkpoint c "
        "on c.spec_hash = g.checkpoint_spec where g.error is null group by c.name").fetchall())
    (judged,) = db.execute("select count(*) from judgment where verdict is not null").fetchone()
    db.close()
    return {"base": gens.get("base", 0), "cand": gens.get("cand", 0), "judge": judged}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_resumes_without_repeating_completed_requests(serve, tmp_path: Path,
                                                                  sig: int) -> None:
    srv = serve(make_scenario(latency=0.05))
    write_pool(tmp_path / "pool.jsonl", N)
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)

    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "compare", "base", "cand",
                             "--pool", "small", "--json"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ)
    deadline = time.monotonic() + 60
    while srv.stats()["by_model"].get("judge", {}).get("completed", 0) < N // 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "run again to resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL

    done = stored(tmp_path / "evalkit.db")
    assert 0 < done["judge"] < 2 * N
    first_run = srv.stats()
    # what the killed run lost is bounded by what was in flight (3 endpoints x 16) plus one
    # group commit's worth, not by what it completed
    lost = first_run["completed"] - sum(done.values())
    assert 0 <= lost <= 2 * 3 * 16, (lost, first_run, done)
    srv.reset()

    out = cli_json(["compare", "base", "cand", "--pool", "small"], tmp_path)
    assert out["overall"]["n"] == N and out["overall"]["failed"] == 0
    second = srv.stats()["by_model"]
    # exactly the missing work is requested again, nothing that was stored
    assert second.get("base", {}).get("requests", 0) == N - done["base"]
    assert second.get("cand", {}).get("requests", 0) == N - done["cand"]
    assert second.get("judge", {}).get("requests", 0) == 2 * N - done["judge"]
    assert stored(tmp_path / "evalkit.db") == {"base": N, "cand": N, "judge": 2 * N}
