"""SIGKILL at ten seeded random points: a compare killed and restarted ten times ends exactly
where an uninterrupted run ends (same JSON numbers, same stored rows), and the server only
ever completed again what was in flight — or completed but not yet committed — at a kill."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

N = 160
KILLS = 10
CONCURRENCY = 16  # per endpoint (write_config)
# what one kill may cost: requests in flight at the three endpoints, plus responses that
# completed but were still waiting for the group commit (~20 ms of completions)
LOST_PER_KILL = 2 * 3 * CONCURRENCY

GEN_COLS = "key, checkpoint_spec, prompt_hash, sample, response, error, finish_reason, " \
           "prompt_tokens, completion_tokens"
JUDGE_COLS = "key, judge_spec, prompt_hash, gen_first, gen_second, verdict, strength, " \
             "preference, raw_output, error, reasked"
ITEM_COLS = "position, sample, item_id, prompt_hash, gen_baseline, gen_candidate, " \
            "judgment_cand_first, judgment_base_first, outcome, strength, score"


def prepare(serve, folder: Path) -> Any:  # type: ignore[no-untyped-def]
    folder.mkdir()
    srv = serve(make_scenario(latency=0.03))
    write_pool(folder / "pool.jsonl", N)
    write_config(folder / "evalkit.toml", srv.base_url)
    run_cli(["pool", "import", "small", "pool.jsonl"], folder)
    return srv


def rows(db: Path, comparison_id: str) -> dict[str, list[tuple]]:
    """Everything a run stores, without timings (latency, created_at, attempts)."""
    con = sqlite3.connect(db)
    try:
        return {
            "generation": con.execute(f"SELECT {GEN_COLS} FROM generation ORDER BY key").fetchall(),
            "judgment": con.execute(f"SELECT {JUDGE_COLS} FROM judgment ORDER BY key").fetchall(),
            "items": con.execute(f"SELECT {ITEM_COLS} FROM comparisonitem WHERE comparison_id "
                                 "= ? ORDER BY position, sample", (comparison_id,)).fetchall(),
            "lease": con.execute("SELECT * FROM lease").fetchall(),
        }
    finally:
        con.close()


def stored_successes(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        (gens,) = con.execute("SELECT COUNT(*) FROM generation WHERE error IS NULL").fetchone()
        (judged,) = con.execute("SELECT COUNT(*) FROM judgment WHERE verdict IS NOT NULL"
                                ).fetchone()
    finally:
        con.close()
    return gens + judged


def settle(srv: Any) -> None:
    """Wait until the server has finished the requests the killed run left in flight (they
    still complete, into a closed socket, and count)."""
    deadline = time.monotonic() + 10
    while (st := srv.stats())["requests"] != st["completed"]:
        assert time.monotonic() < deadline, st
        time.sleep(0.01)


def numbers(summary: dict[str, Any]) -> dict[str, Any]:
    return {"overall": summary["overall"], "by_tag": summary["by_tag"]}


@pytest.mark.slow
def test_ten_sigkills_at_random_points_lose_nothing_and_repeat_only_what_was_in_flight(
        serve, tmp_path: Path) -> None:
    ref_srv = prepare(serve, tmp_path / "reference")
    reference = cli_json(["compare", "base", "cand", "--pool", "small"], tmp_path / "reference")
    ref_completed = ref_srv.stats()["completed"]
    assert ref_completed == 4 * N  # two generations and two judge orders per prompt

    work = tmp_path / "killed"
    srv = prepare(serve, work)
    db = work / "evalkit.db"
    points = sorted(random.Random(2024).sample(range(ref_completed // 20,
                                                     ref_completed * 9 // 10), KILLS))
    # a lease left by a killed run must be free at once (its pid is gone), not after its TTL
    env = {**os.environ, "EVALKIT_LEASE_TTL": "3600"}
    lost: list[int] = []
    for point in points:
        proc = subprocess.Popen([sys.executable, "-m", "evalkit", "compare", "base", "cand",
                                 "--pool", "small", "--json"], cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while srv.stats()["completed"] < point:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, f"no progress towards {point}"
            time.sleep(0.002)
        proc.kill()
        proc.communicate(timeout=30)
        assert proc.returncode == -9
        settle(srv)
        # completed at the server but not in the store: what the next run must ask again
        lost.append(srv.stats()["completed"] - stored_successes(db) - sum(lost))
        assert 0 <= lost[-1] <= LOST_PER_KILL, (point, lost)

    final = cli_json(["compare", "base", "cand", "--pool", "small"], work)
    assert numbers(final) == numbers(reference)
    mine = rows(db, final["comparison_id"])
    theirs = rows(tmp_path / "reference" / "evalkit.db", reference["comparison_id"])
    assert mine == theirs  # every row, byte for byte (timings aside); no lease left behind
    assert mine["lease"] == []
    stats = srv.stats()
    # the only repeats are the requests each kill interrupted; the final run repeated none
    assert stats["completed"] == ref_completed + sum(lost)
    assert stats["completed_repeats"] == sum(lost)
    print(f"kill points {points}; repeated per kill {lost}; total repeated {sum(lost)} of "
          f"{stats['completed']} completed")
