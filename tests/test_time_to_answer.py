"""Time to answer, by what loads and what is sent rather than by the clock (issue 15; the
figures are in bench/time_to_answer.py): a command imports only what its path needs, a rerun
whose answers are all stored asks the server nothing (it may be gone), a misconfiguration
is reported before the store loads, and the fast exit leaves a complete SQLite file."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

N = 24


def loaded(code: str) -> set[str]:
    """Top-level modules and packages ``code`` imports, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\n"
                          "print(' '.join(sorted(sys.modules)))"], capture_output=True,
                         text=True, check=True).stdout
    return set(out.split())


def run_traced(args: list[str], cwd: Path, env: dict[str, str] | None = None
               ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``evalkit ARGS`` under ``-X importtime``: the process and every module it imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "evalkit", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    mods = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:")}
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines()
                            if not line.startswith("import time:"))
    return proc, mods


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_pool(tmp_path / "pool.jsonl", N)
    run_cli(["pool", "import", "small", "pool.jsonl", "--db", "evalkit.db"], tmp_path)
    return tmp_path


def test_light_modules_load_no_heavy_library() -> None:
    heavy = {"scipy", "numpy", "aiohttp", "sqlalchemy", "pandas", "tqdm"}
    # the compare pipeline: no statistics, no HTTP client until they are used
    assert not {"scipy", "numpy", "aiohttp", "pandas", "tqdm"} & loaded("import evalkit.compare")
    # the statistics package loads its modules on first use; the p-values need no scipy.stats
    assert not {"scipy", "numpy"} & loaded("import evalkit.stats")
    mods = loaded("from evalkit.stats import paired_test, win_rate_summary")
    assert "scipy.special" in mods and "scipy.stats" not in mods
    # what the CLI reads before the store: the config, the keys, the store URL, reachability
    assert not heavy & loaded("import evalkit.config, evalkit.preflight, evalkit.reachability,"
                              " evalkit.store.urls, evalkit.cli.common")


def test_cached_rerun_asks_nothing_loads_no_client_and_works_with_the_server_gone(
        serve, project: Path) -> None:
    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    first = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    srv.stop()  # every answer is stored: the rerun needs no server
    proc, mods = run_traced(["compare", "base", "cand", "--pool", "small", "--json"], project)
    assert proc.returncode == 0, proc.stderr
    import json

    again = json.loads(proc.stdout)
    assert again["reused"] is True and again["comparison_id"] == first["comparison_id"]
    assert again["overall"] == first["overall"]
    # no preflight, no HTTP client, no statistics: a read of the store and the stored summary
    assert not {"aiohttp", "scipy", "numpy", "tqdm"} & {m.split(".")[0] for m in mods}


def test_misconfiguration_is_reported_before_the_store_loads(tmp_path: Path) -> None:
    (tmp_path / "pool.jsonl").write_text("")
    write_config(tmp_path / "evalkit.toml", f"http://127.0.0.1:{closed_port()}/v1",
                 checkpoint_extra='api_key_env = "EK_TTA_UNSET"')
    env = {k: v for k, v in os.environ.items() if k != "EK_TTA_UNSET"}
    proc, mods = run_traced(["compare", "base", "cand", "--pool", "small", "--db", "new.db"],
                            tmp_path, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("evalkit: error: environment variable EK_TTA_UNSET is not "
                                   "set (named by api_key_env for checkpoint 'base')")
    assert not {"sqlalchemy", "sqlmodel", "aiohttp", "numpy"} & {m.split(".")[0] for m in mods}
    assert not (tmp_path / "new.db").exists()  # the store was never opened


def test_refused_connection_is_known_before_the_http_client_loads(project: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    write_config(project / "evalkit.toml", url)
    proc, mods = run_traced(["compare", "base", "cand", "--pool", "small"], project)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"evalkit: error: preflight: cannot reach {url} (baseline base, candidate cand, "
        "judge sim): connection refused; is the server running? (--no-preflight skips this "
        "check)")
    assert "aiohttp" not in mods  # the early TCP check answered (reachability.py)
    assert cli_json(["comparisons"], project) == []


def test_reachability_tells_refused_from_listening() -> None:
    import asyncio

    from evalkit.reachability import Reachability, host_port

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        open_url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        dead_url = f"http://127.0.0.1:{closed_port()}/v1"
        reach = Reachability([open_url, dead_url, "unix:///x", open_url + "/again"])

        async def ask() -> list[bool]:
            return [await reach.refused(u) for u in (open_url, dead_url, "http://elsewhere/")]

        assert asyncio.run(ask()) == [False, True, False]
    assert host_port("https://api.example.com/v1") == ("api.example.com", 443)
    assert host_port("http://h:8000/v1") == ("h", 8000)
    assert host_port("http://h:notaport/v1") is None and host_port("file:///x") is None


def test_fast_exit_leaves_a_complete_sqlite_file(serve, project: Path) -> None:
    srv = serve(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)
    summary = cli_json(["compare", "base", "cand", "--pool", "small"], project)
    # the store's connections closed before the process ended: the log is folded back in,
    # so the file alone (copied, mailed, attached to a CI run) holds the comparison
    assert not (project / "evalkit.db-wal").exists()
    copy = project / "copy.db"
    copy.write_bytes((project / "evalkit.db").read_bytes())
    con = sqlite3.connect(copy)
    try:
        assert con.execute("SELECT id FROM comparison").fetchall() == [
            (summary["comparison_id"],)]
        assert con.execute("SELECT COUNT(*) FROM judgment").fetchone()[0] == 2 * N
    finally:
        con.close()


def test_narrowed_command_tree_parses_like_the_whole_one(project: Path) -> None:
    helped = run_cli(["compare", "--help"], project).stdout
    assert "BASELINE CANDIDATE" in helped and "--pool" in helped
    assert "stats" in run_cli(["pool", "--help"], project).stdout
    listed = run_cli(["pool", "list"], project).stdout
    assert "small" in listed
    bad = run_cli(["compare", "base", "cand", "--samples", "0"], project, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--samples" in bad.stderr and "evalkit compare --help" in bad.stderr
    unknown = run_cli(["compaer"], project, check=False)
    assert unknown.returncode == 2 and "No such command 'compaer'" in unknown.stderr


def test_a_profiler_still_gets_its_results(project: Path) -> None:
    """The fast exit steps aside under a profiler: cProfile writes after main() returns."""
    out = project / "run.prof"
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "evalkit",
                           "pool", "list"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "small" in proc.stdout
    import pstats

    assert pstats.Stats(str(out)).total_calls > 0
