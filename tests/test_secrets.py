"""Planted secrets: API keys in the environment, a token in a base URL, a password in a store
URL. Real commands run against real scripted servers that demand the keys (and echo a wrong one
back in their 401 error); then every output is searched for every secret — stdout, stderr,
every file under the folder (the SQLite store's bytes, free pages included, and any -wal),
reports, the PostgreSQL store's rows, and the command lines of the processes evalkit starts."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import make_scenario, run_cli, write_pool

USER = "svc"


def planted(kind: str) -> str:
    return f"{kind}-planted-{uuid.uuid4().hex}"


def forms(secret: str) -> list[bytes]:
    """The ways a secret could be written down: as is, URL-quoted, base64 alone and as the
    ``user:secret`` of a Basic header."""
    raw = [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
           base64.b64encode(f"{USER}:{secret}".encode()).decode()]
    return sorted({r.encode() for r in raw})


def assert_clean(sources: dict[str, bytes], secrets: list[str]) -> None:
    leaks = [f"{name} holds {form.decode()[:24]}…" for name, data in sources.items()
             for secret in secrets for form in forms(secret) if form in data]
    assert not leaks, leaks


def files_under(root: Path, skip: set[str]) -> dict[str, bytes]:
    """Every file under ``root`` except the config files the user wrote (which hold the URL
    credentials on purpose)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in skip}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runs:
    """Run evalkit commands and keep everything they printed."""

    def __init__(self, cwd: Path) -> None:
        self.cwd, self.outputs = cwd, {}

    def __call__(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        proc = run_cli(list(args), self.cwd, check=False, timeout=90)
        name = " ".join(args)
        self.outputs[f"stdout of {name}"] = proc.stdout.encode()
        self.outputs[f"stderr of {name}"] = proc.stderr.encode()
        assert proc.returncode in ok, (name, proc.returncode, proc.stderr[-3000:])
        return proc.stdout


def write_secret_config(path: Path, ckpt_url: str, judge_url: str, url_secret: str) -> None:
    with_creds = ckpt_url.replace("http://", f"http://{USER}:{url_secret}@")
    common = "max_concurrency = 8\ntimeout = 10\nmax_retries = 1\n"
    path.write_text(
        '[store]\nurl = "sqlite:///evalkit.db"\n'
        f'[checkpoints.base]\nbase_url = "{with_creds}"\nmodel = "base"\n{common}'
        f'[checkpoints.cand]\nbase_url = "{with_creds}"\nmodel = "cand"\n{common}'
        f'[checkpoints.third]\nbase_url = "{ckpt_url}"\nmodel = "third"\n'
        f'api_key_env = "EVALKIT_TEST_WRONG_KEY"\n{common}'
        f'[judges.sim]\nbase_url = "{judge_url}"\nmodel = "judge"\n'
        f'api_key_env = "OPENAI_API_KEY"\n{common}'
        '[defaults]\njudge = "sim"\npool = "small"\n', encoding="utf-8")


def test_planted_secrets_never_leave_the_environment_or_the_url(
        serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key, url_key, wrong_key, pg_password = (planted("sk"), planted("tok"),
                                                planted("wrong"), planted("pw"))
    secrets = [env_key, url_key, wrong_key, pg_password]
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    monkeypatch.setenv("EVALKIT_TEST_WRONG_KEY", wrong_key)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    monkeypatch.delenv("EVALKIT_DB", raising=False)
    # the checkpoints' server wants the URL's token, the judge's server the environment key;
    # both answer a wrong key with a 401 that quotes the Authorization header they got
    ckpts = serve({**make_scenario(), "api_key": url_key})
    judge = serve({**make_scenario(), "api_key": env_key})
    write_secret_config(tmp_path / "evalkit.toml", ckpts.base_url, judge.base_url, url_key)
    write_pool(tmp_path / "pool.jsonl", 6)
    (tmp_path / "outputs.json").write_text(json.dumps([
        {"instruction": f"Question {i}?", "output": f"answer {i} by {m}", "generator": m}
        for m in ("m1", "m2") for i in range(3)]), encoding="utf-8")
    (tmp_path / "labels.json").write_text(json.dumps([
        {"input": "Say hi.", "output_1": "hi", "output_2": "hello there", "label": 2}]),
        encoding="utf-8")
    run = Runs(tmp_path)

    run("pool", "import", "small", "pool.jsonl")
    good = json.loads(run("compare", "base", "cand", "--json"))
    assert good["overall"]["failed"] == 0 and good["overall"]["n"] == 6  # keys were sent
    # the wrong key: the preflight stops at once (the server's 401 quotes the key it got) …
    run("compare", "base", "third", "--json", ok=(2,))
    # … and without it every request gets the 401: stored redacted and reported, exit 3
    bad = json.loads(run("compare", "base", "third", "--json", "--no-preflight", ok=(3,)))
    assert bad["overall"]["failed"] == 6 and bad["comparison_id"] is None
    assert bad["failures"][0]["reason"] == "http_401"
    run("show", good["comparison_id"], "--items", "--json")
    run("show", good["comparison_id"][:8])
    run("comparisons")
    run("leaderboard", "--json")
    run("gate", "cand", "--baseline", "base", "--markdown", "gate.md", "--junit",
        "gate.xml", "--json", ok=(0, 1, 2))
    run("baseline", "promote", "base", "-m", "planted-secret test")
    run("import", "alpaca-eval", "--outputs", "outputs.json", "--json")
    run("judge-eval", "sim", "--labels", "labels.json", "--json")
    run("pool", "show", "small")
    # error paths that quote URLs: credentials in a base URL and api_key_env at once, and a
    # PostgreSQL store with a password that nobody answers
    (tmp_path / "ambiguous.toml").write_text(
        (tmp_path / "evalkit.toml").read_text().replace(
            'model = "base"\n', 'model = "base"\napi_key_env = "OPENAI_API_KEY"\n'),
        encoding="utf-8")
    run("compare", "base", "cand", "--config", "ambiguous.toml", ok=(2,))
    monkeypatch.setenv("EVALKIT_DB", f"postgresql://{USER}:{pg_password}@127.0.0.1:"
                                     f"{closed_port()}/evalkit")
    run("comparisons", ok=(2,))
    run("compare", "base", "cand", "--limit", "2", ok=(2,))
    monkeypatch.delenv("EVALKIT_DB")

    db = sqlite3.connect(tmp_path / "evalkit.db")
    errors = [r[0] for r in db.execute("select error from generation where error is not null")]
    assert errors and all("invalid API key" in e and "***" in e for e in errors), errors[:2]
    db.close()
    assert (tmp_path / "gate.md").exists() and (tmp_path / "gate.xml").exists()
    assert (tmp_path / "step-summary.md").exists()
    stderr = run.outputs["stderr of comparisons"].decode()
    assert "***" in stderr and "evalkit: error:" in stderr
    assert "***" in run.outputs["stderr of compare base cand --config ambiguous.toml"].decode()

    assert_clean(run.outputs, secrets)
    files = files_under(tmp_path, skip={"evalkit.toml", "ambiguous.toml"})
    assert "evalkit.db" in files and len(files["evalkit.db"]) > 50_000
    assert_clean(files, secrets)


def test_credentials_in_a_base_url_are_sent_as_the_bearer_key(serve, tmp_path: Path) -> None:
    """``https://user:TOKEN@host/v1`` and ``https://TOKEN@host/v1``: the server demands
    ``Authorization: Bearer TOKEN`` and answers; the stored specs and output never hold it."""
    token = planted("tok")
    srv = serve({**make_scenario(), "api_key": token})
    port = srv.port
    (tmp_path / "evalkit.toml").write_text(
        f'[checkpoints.base]\nbase_url = "http://{USER}:{token}@127.0.0.1:{port}/v1"\n'
        'model = "base"\n'
        f'[checkpoints.cand]\nbase_url = "http://{token}@127.0.0.1:{port}/v1"\n'
        'model = "cand"\n'
        f'[judges.sim]\nbase_url = "http://{USER}:{quote(token)}@127.0.0.1:{port}/v1"\n'
        'model = "judge"\n', encoding="utf-8")
    write_pool(tmp_path / "pool.jsonl", 3)
    run = Runs(tmp_path)
    run("pool", "import", "small", "pool.jsonl")
    out = json.loads(run("compare", "base", "cand", "--pool", "small", "--json"))
    assert out["overall"]["failed"] == 0 and out["overall"]["n"] == 3
    assert srv.stats()["by_model"]["judge"]["completed"] == 6
    with sqlite3.connect(tmp_path / "evalkit.db") as db:
        specs = db.execute("select spec_json from checkpoint").fetchall()
    assert len(specs) == 2 and all("127.0.0.1" not in s for (s,) in specs)
    assert_clean({**run.outputs, **files_under(tmp_path, skip={"evalkit.toml"})}, [token])


def test_a_store_password_stays_out_of_the_postgresql_store(
        serve, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """trust auth accepts any password: a real PostgreSQL store reached with one."""
    import psycopg

    password, env_key = planted("pw"), planted("sk")
    url = pg_url.replace("://evalkit@", f"://evalkit:{password}@")
    assert password in url
    monkeypatch.setenv("EVALKIT_DB", url)  # not on the command line, as a user would
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    srv = serve({**make_scenario(), "api_key": env_key})
    (tmp_path / "evalkit.toml").write_text(
        f'[checkpoints.base]\nbase_url = "{srv.base_url}"\nmodel = "base"\n'
        'api_key_env = "OPENAI_API_KEY"\n'
        f'[checkpoints.cand]\nbase_url = "{srv.base_url}"\nmodel = "cand"\n'
        'api_key_env = "OPENAI_API_KEY"\n'
        f'[judges.sim]\nbase_url = "{srv.base_url}"\nmodel = "judge"\n'
        'api_key_env = "OPENAI_API_KEY"\n', encoding="utf-8")
    write_pool(tmp_path / "pool.jsonl", 4)
    run = Runs(tmp_path)
    run("pool", "import", "small", "pool.jsonl")
    out = json.loads(run("compare", "base", "cand", "--pool", "small", "--json"))
    assert out["overall"]["failed"] == 0
    run("show", out["comparison_id"], "--items", "--json")
    run("comparisons")
    run("leaderboard", "--pool", "small")

    rows: dict[str, bytes] = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'")]
        for table in tables:
            text = "\n".join(r[0] for r in conn.execute(
                f'select cast(t as text) from "{table}" t'))  # names from the catalogue
            rows[f"table {table}"] = text.encode()
    assert sum(len(v) for v in rows.values()) > 1000
    assert_clean({**run.outputs, **rows}, [password, env_key])
    assert_clean(files_under(tmp_path, skip={"evalkit.toml"}), [password, env_key])


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                child = int(stat.parent.name)
                found.append(child)
                frontier.append(child)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_dashboard_keeps_the_store_password_off_command_lines(tmp_path: Path) -> None:
    pytest.importorskip("streamlit")
    password = planted("pw")
    env = {**os.environ, "EVALKIT_DB": f"postgresql://{USER}:{password}@127.0.0.1:"
                                       f"{closed_port()}/evalkit"}
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "dashboard", "--port",
                             str(closed_port())], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline, streamlit = time.monotonic() + 20, None
        while streamlit is None and time.monotonic() < deadline and proc.poll() is None:
            streamlit = next((c for c in _children(proc.pid) if b"streamlit" in _cmdline(c)),
                             None)
            time.sleep(0.1)
        assert streamlit is not None, "the dashboard did not start streamlit"
        lines = {f"cmdline of {p}": _cmdline(p) for p in [proc.pid, *_children(proc.pid)]}
        args = _cmdline(streamlit).split(b"\0")
        assert args[args.index(b"--server.address") + 1] == b"127.0.0.1"  # local by default
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if streamlit is not None and Path(f"/proc/{streamlit}").exists():
            os.kill(streamlit, signal.SIGKILL)
    assert b"store: postgresql+psycopg://svc:***@" in out
    assert_clean({**lines, "stdout": out, "stderr": err}, [password])


# --------------------------------------------------------------------------- other habits

HOSTILE = "x'); DROP TABLE pool; --\"%_"
TAG = "t'); DROP TABLE pool; --%_"  # no '"': SQLite's JSON paths cannot quote one (see docs)


def test_values_with_sql_metacharacters_are_only_ever_parameters(tmp_path: Path) -> None:
    """Pool names, tag names and values, ids and search text that look like SQL are stored
    and found as text (every query binds them; none is pasted into SQL)."""
    from evalkit.store import make_engine
    from evalkit.store.dashboard_queries import SampleFilter, sample_page, tag_names, tag_values

    rows = [{"id": f"{HOSTILE}{i}", "prompt": f"Prompt {i} {HOSTILE}",
             "tags": {TAG: f"v{i % 2}{HOSTILE}"}} for i in range(4)]
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run = Runs(tmp_path)
    run("pool", "import", HOSTILE, "pool.jsonl")
    shown = json.loads(run("pool", "show", HOSTILE, "--json"))
    assert shown["prompts"] == 4 and shown["tags"] == {
        TAG: {f"v0{HOSTILE}": 2, f"v1{HOSTILE}": 2}}
    run("show", HOSTILE, ok=(2,))
    assert "no comparison" in run.outputs[f"stderr of show {HOSTILE}"].decode()
    engine = make_engine(f"sqlite:///{tmp_path / 'evalkit.db'}", create=False)
    assert tag_names(engine, HOSTILE) == [TAG]
    assert [r["prompts"] for r in tag_values(engine, HOSTILE, TAG)] == [2, 2]
    hostile = SampleFilter(search=HOSTILE, tag=(TAG, f"v0{HOSTILE}"))
    assert sample_page(engine, HOSTILE, hostile)[1] == 0
    engine.dispose()
    with sqlite3.connect(tmp_path / "evalkit.db") as db:
        assert db.execute("select count(*) from pool").fetchone() == (1,)


def test_importers_write_nothing_but_the_store(tmp_path: Path) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps([
        {"instruction": "Q?", "output": f"answer by {m}", "generator": f"../../{m}"}
        for m in ("m1", "m2")]), encoding="utf-8")
    before = {p.name for p in tmp_path.iterdir()}
    Runs(tmp_path)("import", "alpaca-eval", "--outputs", "outputs.json", "--db", "store.db")
    after = {p.name for p in tmp_path.iterdir()}
    assert after - before <= {"store.db", "store.db-wal", "store.db-shm"}
    assert not list(tmp_path.parent.glob("m1*")) and not list(tmp_path.parent.glob("m2*"))
    source = (Path(__file__).parents[1] / "evalkit" / "cli" / "imports.py").read_text()
    assert "write_" not in source and "open(" not in source  # the CLI only reads and stores
