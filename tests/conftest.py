"""Shared fixtures: offline environment, a real scripted OpenAI-compatible server on 127.0.0.1,
small pools and config files, and a way to run the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# caches in a temp folder from the start, so module-scoped fixtures (which run before the
# per-test fixture below) never write to ~/.cache/huggingface either
_SESSION_CACHE = __import__("tempfile").mkdtemp(prefix="evalkit-hf-")
os.environ["HF_HOME"] = _SESSION_CACHE
os.environ["HF_DATASETS_CACHE"] = os.path.join(_SESSION_CACHE, "datasets")

from evalkit.testing import ScriptedServer  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CATEGORIES = ("math", "coding", "law", "safety")


@pytest.fixture(autouse=True)
def _offline_caches(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path_factory.getbasetemp() / "hf-cache"
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Any]], ScriptedServer]]:
    """Start scripted servers for a test; all are stopped at the end."""
    servers: list[ScriptedServer] = []

    def start(scenario: dict[str, Any]) -> ScriptedServer:
        srv = ScriptedServer(scenario).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def make_scenario(strength_b: float = 0.6, tie_prob: float = 0.1, latency: float = 0.0,
                  models: dict[str, dict[str, Any]] | None = None,
                  judge: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {"base": {"kind": "chat"}, "cand": {"kind": "chat"}, "third": {"kind": "chat"}}
    spec.update(models or {})
    spec["judge"] = {"kind": "judge", "strengths": {"base": 0.0, "cand": strength_b,
                                                    "third": strength_b / 2},
                     "tie_prob": tie_prob, **(judge or {})}
    return {"latency": latency, "models": spec}


def write_pool(path: Path, n: int = 40, multi_turn_every: int = 5) -> Path:
    """A small tagged pool with some multi-turn prompts and references."""
    rows = []
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        row: dict[str, Any] = {"id": f"q{i:03d}", "tags": {"category": cat,
                                                          "difficulty": "easy" if i % 2 else "hard"}}
        if i % multi_turn_every == 0:
            row["messages"] = [{"role": "user", "content": f"Tell me about topic {i}."},
                               {"role": "assistant", "content": f"Topic {i} is broad."},
                               {"role": "user", "content": f"Narrow it down to {cat}."}]
        else:
            row["prompt"] = f"Question {i} about {cat}: explain it step by step."
        if cat == "math":
            row["reference"] = str(i * 2)
        rows.append(row)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def write_config(path: Path, base_url: str, *, db: str = "evalkit.db",
                 judge_extra: str = "", checkpoint_extra: str = "",
                 checkpoints: tuple[str, ...] = ("base", "cand", "third"),
                 max_retries: int = 3) -> Path:
    parts = [f'[store]\nurl = "sqlite:///{db}"\n']
    for name in checkpoints:
        parts.append(f'[checkpoints.{name}]\nbackend = "openai"\nbase_url = "{base_url}"\n'
                     f'model = "{name}"\nmax_concurrency = 16\ntimeout = 10\nmax_retries = {max_retries}\n'
                     f'sampling = {{ temperature = 0.0, max_tokens = 256, seed = 0 }}\n'
                     f'{checkpoint_extra}\n')
    parts.append(f'[judges.sim]\nbase_url = "{base_url}"\nmodel = "judge"\n'
                 f'max_concurrency = 16\ntimeout = 10\nmax_retries = 3\n{judge_extra}\n')
    parts.append('[defaults]\njudge = "sim"\n')
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def run_cli(args: list[str], cwd: Path, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})
    if check and proc.returncode != 0:
        raise AssertionError(f"evalkit {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def cli_json(args: list[str], cwd: Path) -> Any:
    return json.loads(run_cli([*args, "--json"], cwd).stdout)


# ---- PostgreSQL --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostgreSQL server on 127.0.0.1 for the session (tests/pgserver.py)."""
    from pgserver import PostgresServer, find_bindir

    required = os.environ.get("EVALKIT_REQUIRE_POSTGRES") == "1"
    bindir = find_bindir()
    reason = None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        reason = "psycopg is not installed (pip install -e '.[test]')"
    if bindir is None:
        reason = ("PostgreSQL is not installed (Debian: apt-get install -y postgresql; "
                  ".ci/run installs it) — the PostgreSQL store tests need it")
    if reason:
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A fresh, empty PostgreSQL database."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")
