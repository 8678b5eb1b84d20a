"""The store itself: migrations (fresh and from a 0.1.0 store), one-line errors for every bad
store, and the same reads and writes on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import make_scenario, run_cli, write_pool
from sqlalchemy import inspect

from evalkit.errors import StoreError
from evalkit.store import make_engine, queries
from evalkit.store.migrate import HEAD, revision

DATA = Path(__file__).parent / "data"


def test_head_constant_matches_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import evalkit.store.migrate as m

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(m.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD


def test_migrations_build_exactly_the_models_schema(store_url: str) -> None:
    """A store built by the migrations has what the models declare: no table, column or index
    missing or extra (alembic's own comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(store_url)
    with engine.connect() as conn:
        assert revision(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_a_store_made_by_0_1_0_upgrades_in_place_without_loss(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(DATA / "store_v010.db", db)
    before = sqlite3.connect(db)
    tables = [r[0] for r in before.execute(
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    assert "alembic_version" not in tables
    dump = {t: sorted(map(repr, before.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    before.close()
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert revision(conn) == HEAD
        assert "lease" in inspect(conn).get_table_names()
    after = sqlite3.connect(db)
    for t in tables:
        assert sorted(map(repr, after.execute(f'SELECT * FROM "{t}"'))) == dump[t], t
    after.close()
    comps = queries.list_comparisons(engine)
    assert len(comps) == 2 and all(json.loads(c["summary_json"])["overall"]["n"] > 0
                                   for c in comps)


def test_upgraded_old_store_keeps_working_through_the_cli(tmp_path: Path, serve) -> None:
    """After the upgrade, a compare reuses the 0.1.0 store's cached generations and verdicts."""
    db = tmp_path / "old.db"
    shutil.copy(DATA / "store_v010.db", db)
    srv = serve(make_scenario())
    parts = [f'[store]\nurl = "sqlite:///{db}"\n']  # the same specs as make_store_v010.py
    for name in ("base", "cand", "third"):
        parts.append(f'[checkpoints.{name}]\nbase_url = "{srv.base_url}"\nmodel = "{name}"\n')
    parts.append(f'[judges.sim]\nbase_url = "{srv.base_url}"\nmodel = "judge"\n')
    (tmp_path / "evalkit.toml").write_text("\n".join(parts) + '[defaults]\njudge = "sim"\n')
    conn = sqlite3.connect(db)
    rows = [json.loads(r[0]) for r in conn.execute(
        "SELECT messages_json FROM prompt p JOIN poolitem pi ON pi.prompt_hash = p.hash "
        "ORDER BY pi.position")]
    conn.close()
    pool = [{"id": f"q{i:03d}", "prompt": m[0]["content"],
             "tags": {"category": ("math", "law", "coding", "safety")[i % 4]}}
            for i, m in enumerate(rows)]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in pool) + "\n")
    run_cli(["pool", "import", "p", "p.jsonl"], tmp_path)
    out = json.loads(run_cli(["compare", "base", "cand", "--pool", "p", "--json"],
                             tmp_path).stdout)
    assert out["overall"]["n"] > 0
    assert out["requests"] == {"baseline": {"cached": 40}, "candidate": {"cached": 40},
                               "judge": {"cached": 80}}
    assert srv.stats()["requests"] == 0  # everything came from the old store


def _sqlite_error(tmp_path: Path, args: list[str]) -> str:
    proc = run_cli(args, tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_bad_stores_give_one_line_and_create_nothing(tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    msg = _sqlite_error(tmp_path, ["comparisons", "--db", "typo/evalkit.db"])
    assert "typo" in msg
    msg = _sqlite_error(tmp_path, ["comparisons", "--db", "missing.db"])
    assert "no store at" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no folder, no file
    (tmp_path / "junk.db").write_bytes(b"not a database at all " * 200)
    assert "not a SQLite database" in _sqlite_error(tmp_path, ["comparisons", "--db", "junk.db"])
    other = tmp_path / "other.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE users (id INTEGER)")
    c.commit()
    c.close()
    assert "not an evalkit store" in _sqlite_error(tmp_path, ["comparisons", "--db", "other.db"])
    assert "not a valid URL" in _sqlite_error(tmp_path, ["comparisons", "--db",
                                                         "postgresql://u@h:port/db"])
    assert "Invalid SQLite URL" in _sqlite_error(tmp_path, ["comparisons", "--db", "sqlite://x/y"])
    msg = _sqlite_error(tmp_path, ["comparisons", "--db", "mysql://u:hunter2@h/db"])
    assert "hunter2" not in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_read_only_store_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    make_engine(f"sqlite:///{db}").dispose()
    db.chmod(0o444)
    write_pool(tmp_path / "p.jsonl", n=4)
    msg = _sqlite_error(tmp_path, ["pool", "import", "p", "p.jsonl", "--db", str(db)])
    assert "read-only" in msg


def test_postgres_without_server_is_one_line_and_masks_the_password(tmp_path: Path) -> None:
    url = "postgresql://alice:s3cr3t-pw@127.0.0.1:1/evalkit"
    msg = _sqlite_error(tmp_path, ["comparisons", "--db", url])
    assert "s3cr3t-pw" not in msg and "alice:***@" in msg


def test_store_error_names_missing_driver() -> None:
    with pytest.raises(StoreError, match="needs the Python module"):
        make_engine("postgresql+pg8000://u@127.0.0.1/db")


def test_two_processes_creating_one_store_at_once(tmp_path: Path) -> None:
    """Concurrent first opens: one runs the migrations, the other waits and finds them done."""
    import subprocess
    import sys

    code = ("import sys; from evalkit.store import make_engine; "
            "make_engine(sys.argv[1]).dispose(); print('ok')")
    url = f"sqlite:///{tmp_path / 'race.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with make_engine(url).connect() as conn:
        assert revision(conn) == HEAD


def test_queries_round_trip_on_both_backends(store_url: str) -> None:
    from evalkit.pools import PoolPrompt

    engine = make_engine(store_url)
    prompts = [PoolPrompt(id=f"p{i}", messages=({"role": "user", "content": f"q{i}"},),
                          tags={"category": "math" if i % 2 else "law"}) for i in range(5)]
    pool, created = queries.save_pool(engine, "pool", "v1", prompts)
    assert created and queries.save_pool(engine, "pool", "v1", prompts)[1] is False
    assert [p.id for p in queries.pool_prompts(engine, pool.id)] == [p.id for p in prompts]
    from evalkit.store.models import Generation

    rows = [{"key": f"k{i}", "checkpoint_spec": "s", "prompt_hash": prompts[i].prompt_hash,
             "sample": 0, "response": f"r{i}"} for i in range(5)]
    queries.upsert(engine, Generation, rows)
    queries.upsert(engine, Generation, [{**rows[0], "response": "changed"}])
    got = queries.load_generations(engine, [f"k{i}" for i in range(5)])
    assert got["k0"]["response"] == "changed" and got["k4"]["response"] == "r4"
    queries.promote(engine, "ckpt", "pool", "me", "why")
    assert queries.promotions(engine, "pool")[0].checkpoint == "ckpt"
