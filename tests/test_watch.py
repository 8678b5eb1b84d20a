"""``evalkit watch``: new checkpoints found on a scripted server whose ``/v1/models`` grows, or in
a folder of replay files, are each evaluated once against the right previous checkpoint and the
promoted baseline; a killed watcher resumes without repeating a completed request; a
checkpoint whose endpoint is down is retried with backoff while the others go on; the webhook
gets the gate's JSON and a failing webhook is reported, not fatal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_config, write_pool

from evalkit.config import load_config
from evalkit.errors import ConfigError
from evalkit.resources import data_dir
from evalkit.store import make_engine, queries
from evalkit.watch import Watcher
from evalkit.watch.state import WatchState

N = 20
STRENGTHS = {"base": 0.0, "r1": 0.3, "r2": 0.6, "r3": 0.9, "r4": 1.2}


def scenario(served: dict[str, dict[str, Any]], latency: float = 0.0) -> dict[str, Any]:
    return {"latency": latency, "models": {
        "base": {"kind": "chat"}, **served,
        "judge": {"kind": "judge", "strengths": STRENGTHS, "tie_prob": 0.1}}}


def setup(tmp: Path, base_url: str, n: int = N, extra: str = "", sources: str | None = None,
          template: str = "") -> Path:
    """A store with pool 'small' and 'base' promoted; [watch] on the server's model list."""
    write_pool(tmp / "pool.jsonl", n)
    cfg = write_config(tmp / "evalkit.toml", base_url, checkpoints=("base",))
    sources = sources if sources is not None else (
        f'[watch.sources.fleet]\nkind = "models"\nbase_url = "{base_url}"\ninclude = ["r*"]\n')
    with open(cfg, "a", encoding="utf-8") as fh:
        fh.write(f'\n[gate]\npool = "small"\nmin_valid = 10\n\n'
                 f'[watch]\nreport_dir = "reports"\npoll_interval = 0.2\n{extra}\n{sources}\n'
                 '[watch.checkpoint_template]\nmodel = "{id}"\nmax_concurrency = 16\n'
                 'timeout = 10\nmax_retries = 0\n'
                 'sampling = { temperature = 0.0, max_tokens = 256, seed = 0 }\n'
                 f'{template}\n[watch.plan]\npools = ["small"]\n')
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp)
    run_cli(["baseline", "promote", "base", "--pool", "small", "-m", "sft"], tmp)
    return cfg


def watcher(cfg: Path, lines: list[str] | None = None, **kw: Any) -> Watcher:
    config = load_config(cfg)
    out = lines if lines is not None else []
    return Watcher(config, make_engine(config.store_url), echo=out.append, **kw)


def pairs(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(
            "SELECT baseline, candidate FROM comparison ORDER BY created_at, id")]
    finally:
        con.close()


def gate_runs(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(
            "SELECT baseline, candidate FROM gaterun ORDER BY created_at")]
    finally:
        con.close()


def test_a_growing_model_list_gets_each_checkpoint_evaluated_once(serve, tmp_path: Path) -> None:
    srv = serve(scenario({"r1": {"kind": "chat"}}))
    cfg = setup(tmp_path, srv.base_url)
    lines: list[str] = []
    w = watcher(cfg, lines)
    first = w.run_once()
    assert [o.name for o in first.evaluated] == ["r1"] and first.ok
    assert first.evaluated[0].previous is None  # the first of its chain: vs promoted only

    # as with vLLM restarted on the next round (a new --served-model-name): r1 is no longer
    # served, and need not be: its answers are in the store
    srv.remove_model("r1")
    srv.add_model("r2", {"kind": "chat"})
    second = w.run_once()
    assert [(o.name, o.previous, o.status) for o in second.evaluated] == [("r2", "r1", "done")]

    # the loop: r3 appears while it runs, and is evaluated without anyone asking
    stop = threading.Event()
    loop = threading.Thread(target=w.run_forever, args=(stop,))
    loop.start()
    try:
        time.sleep(0.3)
        srv.remove_model("r2")
        srv.add_model("r3", {"kind": "chat"})
        deadline = time.monotonic() + 60
        while (row := w.state.get("r3")) is None or row.status != "done":
            assert time.monotonic() < deadline, row
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(60)
    assert not loop.is_alive()

    # nothing new: a pass (and a restarted watcher's pass) asks nothing of anyone
    before = srv.stats()
    assert watcher(cfg).run_once().evaluated == ()
    assert srv.stats()["requests"] == before["requests"]

    stats = srv.stats()
    by_model = stats["by_model"]
    for name in ("base", "r1", "r2", "r3"):  # every checkpoint answered each prompt once
        assert by_model[name]["requests"] == N, (name, by_model)
    # judged pairs: base-r1, r1-r2, base-r2, r2-r3, base-r3, both orders, once each
    assert by_model["judge"]["requests"] == 5 * 2 * N
    assert stats["completed_repeats"] == 0

    db = tmp_path / "evalkit.db"
    assert pairs(db) == [("base", "r1"), ("r1", "r2"), ("base", "r2"), ("r2", "r3"),
                         ("base", "r3")]
    assert gate_runs(db) == [("base", "r1"), ("base", "r2"), ("base", "r3")]
    rows = WatchState(make_engine(f"sqlite:///{db}")).rows()
    assert {n: (r.status, r.planned.previous, r.planned.promoted) for n, r in rows.items()} == {
        "r1": ("done", None, {"small": "base"}), "r2": ("done", "r1", {"small": "base"}),
        "r3": ("done", "r2", {"small": "base"})}
    for name in ("r1", "r2", "r3"):
        assert rows[name].decision in ("pass", "regression", "inconclusive")
        assert (tmp_path / "reports" / f"{name}.md").read_text().strip()
        report = json.loads((tmp_path / "reports" / f"{name}.json").read_text())
        assert (report["candidate"], report["baseline"]) == (name, "base")
    summaries = [line for line in lines if line.startswith("watch: r2 (previous r1)")]
    assert len(summaries) == 1 and "vs r1 (previous)" in summaries[0]
    assert "vs base (promoted)" in summaries[0] and "gate: " in summaries[0]

    # the stored trajectory is the chain the watcher followed, as the dashboard reads it
    sys.path.insert(0, str(data_dir("dashboard")))
    from ekdash.data import chains

    from evalkit.bench.transfer import chain_from_comparisons
    from evalkit.store import dashboard_queries

    engine = make_engine(f"sqlite:///{db}")
    comps = dashboard_queries.comparisons(engine, "small")
    assert [(c["baseline"], c["candidate"]) for c in chains(comps)["r3"]] == [
        ("base", "r1"), ("r1", "r2"), ("r2", "r3")]
    assert chain_from_comparisons(queries.list_comparisons(engine, "small")) == [
        "base", "r1", "r2", "r3"]


def _replay(path: Path, model: str, n: int = N) -> list[str]:
    """Replay lines whose answers the scripted judge recognises as ``model``'s."""
    return [json.dumps({"id": f"q{i:03d}",
                        "response": f"[sim model={model} prompt={i:010x}] an answer"}) + "\n"
            for i in range(n)]


def _age(path: Path, seconds: float = 60) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_folder_entry_is_taken_only_once_complete(serve, tmp_path: Path) -> None:
    srv = serve(scenario({}))
    folder, marked = tmp_path / "replays", tmp_path / "marked"
    folder.mkdir()
    marked.mkdir()
    sources = ('[watch.sources.replays]\nkind = "folder"\npath = "replays"\n'
               'pattern = "*.jsonl"\nstable_for = 2\n\n'
               '[watch.sources.marked]\nkind = "folder"\npath = "marked"\n'
               'pattern = "*.jsonl"\ncomplete = "marker"\nmarker = "{id}.done"\n')
    setup(tmp_path, srv.base_url, sources=sources)
    lines = _replay(folder / "r1.jsonl", "r1")
    (folder / "r1.jsonl").write_text("".join(lines))
    _age(folder / "r1.jsonl")
    # r2 is being written: half its lines, the last one cut
    partial = "".join(_replay(folder / "r2.jsonl", "r2"))
    (folder / "r2.jsonl").write_text(partial[: len(partial) // 2 - 5])
    _age(folder / "r2.jsonl")
    (marked / "r3.jsonl").write_text("".join(_replay(marked / "r3.jsonl", "r3")))
    _age(marked / "r3.jsonl")

    def once() -> dict[str, Any]:
        proc = run_cli(["watch", "--once", "--json"], tmp_path)
        return json.loads(proc.stdout)

    out = once()
    assert [e["checkpoint"] for e in out["evaluated"]] == ["r1"]
    assert any(w.startswith("replays: r2 (its last line is not finished") for w in out["waiting"])
    assert any(w.startswith("marked: r3 (no marker r3.done") for w in out["waiting"])

    (folder / "r2.jsonl").write_text(partial)  # finished just now: not stable yet
    out = once()
    assert out["evaluated"] == [] and any("r2 (changed" in w for w in out["waiting"])
    _age(folder / "r2.jsonl")
    (marked / "r3.done").touch()
    out = once()
    assert [(e["checkpoint"], e["previous"], e["status"]) for e in out["evaluated"]] == [
        ("r2", "r1", "done"), ("r3", "r2", "done")]
    assert out["waiting"] == []
    assert pairs(tmp_path / "evalkit.db") == [("base", "r1"), ("r1", "r2"), ("base", "r2"),
                                              ("r2", "r3"), ("base", "r3")]
    items = cli_items(tmp_path, "r1", "r2")
    assert items["n"] == N and items["failed"] == 0  # every replayed answer was read whole


def cli_items(tmp: Path, baseline: str, candidate: str) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{tmp / 'evalkit.db'}")
    comp = [c for c in queries.list_comparisons(engine, "small")
            if (c["baseline"], c["candidate"]) == (baseline, candidate)][-1]
    return json.loads(comp["summary_json"])["overall"]


def stored_successes(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        (gens,) = con.execute("SELECT COUNT(*) FROM generation WHERE error IS NULL").fetchone()
        (judged,) = con.execute("SELECT COUNT(*) FROM judgment WHERE verdict IS NOT NULL"
                                ).fetchone()
    finally:
        con.close()
    return gens + judged


@pytest.mark.slow
def test_a_killed_watcher_finishes_the_evaluation_without_repeating_a_request(
        serve, tmp_path: Path) -> None:
    n = 40
    srv = serve(scenario({"r1": {"kind": "chat"}, "r2": {"kind": "chat"}}, latency=0.03))
    cfg = setup(tmp_path, srv.base_url, n=n)
    db = tmp_path / "evalkit.db"
    env = {**os.environ, "EVALKIT_LEASE_TTL": "3600"}  # taken over because the pid is gone
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "watch", "--once", "--config",
                             str(cfg)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # r1: its gate judges 2n; r2: vs r1 2n, then its gate 2n: kill halfway through r2's gate
    deadline = time.monotonic() + 90
    while srv.stats()["by_model"].get("judge", {}).get("completed", 0) < 5 * n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, srv.stats()
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10  # what was in flight still completes, into a dead socket
    while (st := srv.stats())["requests"] != st["completed"]:
        assert time.monotonic() < deadline, st
        time.sleep(0.01)
    lost = srv.stats()["completed"] - stored_successes(db)
    assert 0 <= lost <= 2 * 3 * 16
    rows = WatchState(make_engine(f"sqlite:///{db}")).rows()
    assert rows["r1"].status == "done" and rows["r2"].status == "running"
    assert rows["r2"].steps["compare/small/default/previous"]["status"] == "done"
    assert "gate" not in rows["r2"].steps

    proc2 = run_cli(["watch", "--once", "--json"], tmp_path)
    out = json.loads(proc2.stdout)
    assert [(e["checkpoint"], e["status"]) for e in out["evaluated"]] == [("r2", "done")]
    stats = srv.stats()
    # the only requests completed twice are the ones the kill left unstored
    assert stats["completed_repeats"] == lost
    assert stats["completed"] == 3 * n + 3 * 2 * n + lost  # base, r1, r2; 3 pairs judged
    assert pairs(db) == [("base", "r1"), ("r1", "r2"), ("base", "r2")]
    assert gate_runs(db) == [("base", "r1"), ("base", "r2")]
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM lease").fetchone() == (0,)
    assert con.execute("SELECT owner FROM watchedcheckpoint").fetchall() == [(None,), (None,)]
    con.close()


def test_a_checkpoint_whose_endpoint_is_down_is_retried_and_blocks_no_other(
        serve, tmp_path: Path) -> None:
    dead = {"kind": "chat", "failures": {"dead": True}}
    srv = serve(scenario({"r1": {"kind": "chat"}, "r2": dead, "r3": {"kind": "chat"},
                          "r4": dead}))
    cfg = setup(tmp_path, srv.base_url, extra="retry_base = 0.3\nmax_attempts = 3")
    now = [1000.0]
    lines: list[str] = []
    w = watcher(cfg, lines, clock=lambda: now[0])

    first = w.run_once()
    got = {o.name: o for o in first.evaluated}
    assert [o.name for o in first.evaluated] == ["r1", "r2", "r3", "r4"]
    assert (got["r1"].status, got["r2"].status, got["r3"].status) == ("done", "retrying", "done")
    assert got["r2"].retry_in == pytest.approx(0.3)
    assert "server errors" in got["r2"].error and "(candidate r2)" in got["r2"].error
    assert any(line.startswith("watch: r2: attempt 1 of 3 failed: compare/small/default/"
                               "previous: nothing could be judged") for line in lines)
    assert got["r3"].previous == "r1"  # r2 has no results: r3 is compared with the last one
    assert any("r2 passed over (retrying)" in line for line in lines)
    assert got["r4"].previous == "r3"

    now[0] += 0.1  # not due yet
    second = w.run_once()
    assert second.evaluated == () and sorted(x.split()[0] for x in second.not_due) == [
        "r2", "r4"]

    now[0] += 0.3
    third = w.run_once()
    assert [(o.name, o.status, o.retry_in) for o in third.evaluated] == [
        ("r2", "retrying", pytest.approx(0.6)), ("r4", "retrying", pytest.approx(0.6))]

    srv.add_model("r2", {"kind": "chat"})  # r2's server is fixed; r4's is not
    now[0] += 0.7
    fourth = w.run_once()
    got = {o.name: o for o in fourth.evaluated}
    assert (got["r2"].status, got["r2"].previous) == ("done", "r1")
    assert got["r4"].status == "failed" and "gave up after 3 attempts" in got["r4"].error
    assert srv.stats()["by_model"]["r2"]["completed"] == N  # the failed answers, asked again

    engine = make_engine(load_config(cfg).store_url)
    assert WatchState(engine).reset_failed() == ["r4"]  # evalkit watch --retry-failed
    assert WatchState(engine).get("r4").status == "pending"


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((self.path, json.loads(body)))
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_webhook_gets_the_gates_json_and_a_failing_one_is_not_fatal(
        serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("evalkit.watch.notify.RETRY_DELAY", 0.05)
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.got = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"
    try:
        srv = serve(scenario({"r1": {"kind": "chat"}}))
        cfg = setup(tmp_path, srv.base_url, extra=f'webhook = "{hook}/ok"')
        lines: list[str] = []
        out = watcher(cfg, lines).run_once()
        assert [o.status for o in out.evaluated] == ["done"]
        assert len(_Receiver.got) == 1
        path, body = _Receiver.got[0]
        con = sqlite3.connect(tmp_path / "evalkit.db")
        (stored,) = con.execute("SELECT report_json FROM gaterun").fetchone()
        con.close()
        gate = json.loads(stored)
        assert {k: body[k] for k in gate} == json.loads(json.dumps(gate))  # the gate's JSON
        assert body["decision"] in ("pass", "regression", "inconclusive")
        assert body["watch"]["checkpoint"] == "r1" and body["text"].startswith("watch: r1")
        assert any("delivered (HTTP 200)" in line for line in lines)

        # a webhook answering 500: tried twice, reported, and the checkpoint is still done
        text = cfg.read_text().replace(f'{hook}/ok', f'{hook}/fail')
        cfg.write_text(text)
        srv.add_model("r2", {"kind": "chat"})
        lines.clear()
        out = watcher(cfg, lines).run_once()
        assert [(o.name, o.status) for o in out.evaluated] == [("r2", "done")]
        assert [p for p, _ in _Receiver.got[1:]] == ["/fail", "/fail"]
        assert out.evaluated[0].webhook.endswith("not delivered after 2 attempts: HTTP 500")
        assert hook + "/fail" not in " ".join(lines)  # the path (a chat hook's secret) hidden
    finally:
        receiver.shutdown()


def test_watch_config_errors_are_one_line(tmp_path: Path) -> None:
    def load(text: str) -> str:
        path = tmp_path / "evalkit.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as exc:
            load_config(path)
        assert "\n" not in str(exc.value)
        return str(exc.value)

    src = '[watch.sources.s]\nkind = "models"\nbase_url = "http://127.0.0.1:1/v1"\n'
    assert "no sources" in load("[watch]\npoll_interval = 5\n")
    assert "unknown key 'poll'" in load(f"[watch]\npoll = 5\n{src}")
    assert "watch.chain: 'alphabet'" in load(f'[watch]\nchain = "alphabet"\n{src}')
    assert "sources.s.kind" in load('[watch.sources.s]\nkind = "bucket"\n')
    assert "sources.s.path: not a key of a \"models\" source" in load(src + 'path = "x"\n')
    msg = load(src + '[watch.checkpoint_template]\nsampling = { temperature = 5.0 }\n')
    assert "temperature: 5 is out of range" in msg and "{id}" in msg
    assert "step_pattern" in load(f'[watch]\nstep_pattern = "(a)(b)"\n{src}')
    assert "webhook" in load(f'[watch]\nwebhook = "slack"\n{src}')
    assert "against: 'yesterday'" in load(f'{src}[watch.plan]\nagainst = ["yesterday"]\n')
    proc = run_cli(["watch", "--once"], tmp_path, check=False)  # the file above is bad
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "evalkit.toml").write_text("")
    proc = run_cli(["watch", "--once"], tmp_path, check=False)
    assert proc.returncode == 2 and "no [watch] table" in proc.stderr


def test_chain_rules_step_and_parent() -> None:
    from evalkit.watch import chain
    from evalkit.watch.state import Watched

    assert chain.step_number("rlhf-r12", r"(\d+)") == 12
    assert chain.step_number("ckpt-3-step-4000", r"(\d+)") == 4000
    assert chain.step_number("ckpt-3-step-4000", r"ckpt-(\d+)") == 3
    assert chain.step_number("final", r"(\d+)") is None

    def row(name: str, seq: int, status: str = "done", step: int | None = None,
            parent: str | None = None) -> Watched:
        return Watched(name, "s", name, None, parent, step, seq, status, None, {})

    by_step = {r.name: r for r in (row("s-300", 1, step=300), row("s-100", 2, step=100),
                                   row("s-200", 3, "failed", step=200),
                                   row("s-250", 4, "pending", step=250))}
    assert [r.name for r in chain.in_order(by_step, "step")] == ["s-100", "s-200", "s-250",
                                                                 "s-300"]
    assert chain.predecessor(by_step["s-300"], by_step, "step") == "s-250"
    prev, notes = chain.previous(by_step["s-250"], by_step, "step", lambda n: False)
    assert prev == "s-100" and notes == ["s-200 passed over (failed)"]
    assert chain.previous(by_step["s-100"], by_step, "step", lambda n: False) == (None, [])

    tree = {r.name: r for r in (row("dpo-b", 1, "pending", parent="dpo-a"),
                                row("dpo-a", 2, parent="sft"))}
    assert [r.name for r in chain.in_order(tree, "parent")] == ["dpo-a", "dpo-b"]
    assert chain.previous(tree["dpo-b"], tree, "parent", lambda n: False)[0] == "dpo-a"
    assert chain.previous(tree["dpo-a"], tree, "parent", lambda n: n == "sft")[0] == "sft"
    assert chain.previous(tree["dpo-a"], tree, "parent", lambda n: False) == (
        None, ["parent sft is not a known checkpoint"])


@pytest.mark.slow
def test_the_plan_runs_benchmarks_and_clean_only_comparisons_before_the_gate(
        serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.testing.completions import offline_items

    monkeypatch.setenv("LM_HARNESS_CACHE_PATH", str(tmp_path / "lm-eval"))
    srv = serve({**scenario({"r1": {"kind": "chat"}}),
                 "bench": {"items": offline_items(), "models": {"base": {"correct": 0.5},
                                                                "r1": {"correct": 0.8}}}})
    cfg = setup(tmp_path, srv.base_url,
                template=f'completions_url = "{srv.base_url}"\n')
    text = cfg.read_text()
    text = text.replace('model = "base"\n', f'model = "base"\ncompletions_url = "{srv.base_url}"\n')
    text = text.replace('[watch.plan]\n', '[watch.plan]\nbench = ["offline"]\nbench_limit = 5\n'
                        'exclude_contaminated = ["web"]\n')
    cfg.write_text(text + '\n[gate.bench.offline]\ntolerance = 0.05\n')
    corpus = tmp_path / "web.txt"  # four prompts of the pool leaked into a training corpus
    corpus.write_text("".join(f"Question {i} about {('coding', 'law', 'safety')[i % 4 - 1]}: "
                              "explain it step by step.\n" for i in (1, 2, 3, 6)))
    run_cli(["contamination", "scan", "--corpus", str(corpus), "--pool", "small", "--name",
             "web"], tmp_path)

    out = watcher(cfg).run_once()
    assert [o.status for o in out.evaluated] == ["done"], out.evaluated[0].error
    steps = out.evaluated[0].steps
    assert list(steps) == ["clean/web/small/default/previous", "clean/web/small/default/promoted",
                           "compare/small/default/previous", "compare/small/default/promoted",
                           "bench/offline", "gate"]
    assert steps["clean/web/small/default/promoted"]["result"]["clean_only"] == "web"
    assert steps["compare/small/default/promoted"]["result"]["reason"] == (
        "the gate makes this comparison")
    assert set(steps["bench/offline"]["result"]["tasks"]) == {"ek_arith", "ek_facts",
                                                              "ek_follow"}
    engine = make_engine(load_config(cfg).store_url)
    comps = queries.list_comparisons(engine, "small")
    assert [(c["baseline"], c["candidate"]) for c in comps] == [("base", "r1")] * 2
    clean, full = (json.loads(c["summary_json"])["overall"]["n"] for c in comps)
    assert (clean, full) == (N - 4, N)  # the full comparison is the latest (leaderboard)
    report = json.loads((tmp_path / "reports" / "r1.json").read_text())
    assert {r["name"] for r in report["rules"]} >= {"overall", "bench:offline/ek_arith"}


def test_one_watcher_at_a_time_evaluates_a_checkpoint(store_url: str) -> None:
    engine = make_engine(store_url)
    mine, theirs = WatchState(engine), WatchState(engine)  # two watchers on one store
    assert mine.add([{"name": "r1", "source": "s", "external_id": "r1", "path": None,
                      "parent": None, "step": None, "status": "pending"}]) == ["r1"]
    assert theirs.add([{"name": "r1", "source": "s", "external_id": "r1", "path": None,
                        "parent": None, "step": None, "status": "pending"}]) == []
    row = mine.get("r1")
    assert mine.claim(row)
    assert not theirs.claim(theirs.get("r1"))  # held by a live watcher
    assert not theirs.claim(row)  # the owner it read is stale: compare-and-set fails
    mine.set_step("r1", "gate", {"status": "done", "result": {}, "error": None})
    mine.release("r1", status="failed")
    assert theirs.get("r1").owner is None and theirs.get("r1").status == "failed"
    assert theirs.reset_failed() == ["r1"]
    again = theirs.get("r1")
    assert (again.status, list(again.steps)) == ("pending", ["gate"])
    assert theirs.claim(again) and theirs.get("r1").owner == theirs.owner


def test_a_reward_model_judge_in_the_plan(serve, tmp_path: Path) -> None:
    from rm_helpers import rm_table, with_rewards

    srv = serve(with_rewards(scenario({"r1": {"kind": "chat"}, "r2": {"kind": "chat"}}),
                             {"rm": {"rule": "hash", "seed": 2}}))
    cfg = setup(tmp_path, srv.base_url)
    text = cfg.read_text().replace('[watch.plan]\n', '[watch.plan]\njudges = ["sim", "rm:rm"]\n')
    cfg.write_text(text + "\n" + rm_table("rm", backend="vllm", base_url=srv.base_url,
                                          model="rm"))
    out = watcher(cfg).run_once()
    assert [(o.name, o.status) for o in out.evaluated] == [("r1", "done"), ("r2", "done")]
    steps = out.evaluated[1].steps
    assert steps["compare/small/rm:rm/previous"]["result"]["judge"] == "rm:rm"
    assert steps["compare/small/rm:rm/promoted"]["status"] == "done"  # the gate judges with sim
    assert steps["compare/small/sim/promoted"]["result"]["reason"] == (
        "the gate makes this comparison")
    engine = make_engine(load_config(cfg).store_url)
    judged = {(c["baseline"], c["candidate"], c["judge"])
              for c in queries.list_comparisons(engine, "small")}
    assert judged == {("base", "r1", "rm:rm"), ("base", "r1", "sim"), ("r1", "r2", "sim"),
                      ("r1", "r2", "rm:rm"), ("base", "r2", "rm:rm"), ("base", "r2", "sim")}
