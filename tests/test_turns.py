"""Multi-turn conversations answered turn by turn (``compare --turns self``): each checkpoint
answers every user turn after its own earlier answers (the scripted checkpoints' answers hash
the whole conversation, so any other conditioning shows), the judge gets both whole
conversations in each order, each turn is cached on its own (a run killed after turn 1
resumes at turn 2 and never asks turn 1 again), and imported MT-Bench turn-2 judgments are
analysed as such a comparison."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, cli_json, make_scenario, run_cli, write_config

from evalkit.judging.templates import load_template
from evalkit.pools import PoolPrompt, read_pool
from evalkit.testing import ScriptedServer
from evalkit.testing.scripts import ChatScript
from evalkit.turns import conversation, encode, turn_prompt, user_turns

MULTI = 'template = "pairwise_multiturn"'


class RecordingServer(ScriptedServer):
    """The scripted server, keeping every chat request body; with ``hold`` set, requests to
    checkpoints for a later turn (more than one user message) wait until the test ends."""

    def __init__(self, scenario: dict[str, Any]) -> None:
        super().__init__(scenario)
        self.bodies: list[dict[str, Any]] = []
        self.hold = False

    async def _chat(self, body: bytes) -> Any:
        req = json.loads(body)
        self.bodies.append(req)
        users = sum(1 for m in req["messages"] if m["role"] == "user")
        if self.hold and req["model"] != "judge" and users > 1:
            await asyncio.sleep(3600)
        return await super()._chat(body)


@pytest.fixture
def recording() -> Any:
    servers: list[RecordingServer] = []

    def start(scenario: dict[str, Any]) -> RecordingServer:
        srv = RecordingServer(scenario).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def write_turns_pool(path: Path, n: int = 8) -> Path:
    """Multi-turn prompts with the pool's own assistant turns (2 or 3 user turns), one
    single-turn prompt, and tags."""
    rows = []
    for i in range(n):
        msgs = [{"role": "user", "content": f"Question {i}, first turn."},
                {"role": "assistant", "content": "A pool answer nobody should see."},
                {"role": "user", "content": f"Question {i}, now go further."}]
        if i % 3 == 0:
            msgs += [{"role": "assistant", "content": "Another pool answer."},
                     {"role": "user", "content": f"Question {i}, a third turn."}]
        rows.append({"id": f"m{i}", "messages": msgs, "tags": {"category": "multi"},
                     **({"reference": f"ref {i}"} if i % 2 else {})})
    rows.append({"id": "single", "prompt": "A single-turn question.", "tags": {"category": "one"}})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def own_answers(model: str, prompt: PoolPrompt) -> list[str]:
    """What ``model`` answers to every turn, each after its own earlier answers."""
    script, answers = ChatScript(name=model), []
    for _ in range(user_turns(prompt)):
        answers.append(script.answer(list(turn_prompt(prompt, answers).messages), 256)[0])
    return answers


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_turns_pool(tmp_path / "pool.jsonl")
    run_cli(["pool", "import", "mt", "pool.jsonl", "--db", "evalkit.db"], tmp_path)
    return tmp_path


def checkpoint_requests(srv: RecordingServer) -> list[dict[str, Any]]:
    return [b for b in srv.bodies if b["model"] != "judge"]


def test_each_checkpoint_is_conditioned_on_its_own_answers(recording, project: Path) -> None:
    srv = recording(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url, judge_extra=MULTI)
    out = cli_json(["compare", "base", "cand", "--pool", "mt", "--turns", "self"], project)
    prompts = read_pool(project / "pool.jsonl")
    turns = sum(user_turns(p) for p in prompts)
    assert out["turns"] == {"mode": "self", "option": "self", "turn_by_turn_prompts": 8,
                            "max_user_turns": 3}
    assert out["overall"]["n"] == len(prompts) and out["overall"]["failed"] == 0
    assert out["requests"]["baseline"] == {"generated": turns}
    sent = [json.dumps([b["model"], b["messages"]]) for b in checkpoint_requests(srv)]
    assert len(sent) == 2 * turns and len(set(sent)) == 2 * turns  # every turn asked once
    template = load_template("pairwise_multiturn")
    judged = [b["messages"][-1]["content"] for b in srv.bodies if b["model"] == "judge"]
    for p in prompts:
        mine = {m: own_answers(m, p) for m in ("base", "cand")}
        for m, answers in mine.items():
            for k in range(user_turns(p)):  # turn k asked with the model's own k answers
                asked = [*turn_prompt(p, answers[:k]).messages]
                assert json.dumps([m, asked]) in sent
                assert all(a["content"].startswith(f"[sim model={m} ")
                           for a in asked if a["role"] == "assistant")
                assert "A pool answer" not in json.dumps(asked)
        for first, second in (("cand", "base"), ("base", "cand")):  # both orders
            expected = template.render_pair(conversation(p, encode(mine[first])),
                                            conversation(p, encode(mine[second])), p.reference)
            assert expected[-1]["content"] in judged
    again = cli_json(["compare", "base", "cand", "--pool", "mt", "--turns", "self"], project)
    assert again["overall"] == out["overall"]
    assert again["requests"] == {"baseline": {"cached": turns}, "candidate": {"cached": turns},
                                 "judge": {"cached": 2 * len(prompts)}}
    assert len(srv.bodies) == 2 * turns + 2 * len(prompts)  # the rerun asked nothing


def test_pool_mode_stays_the_default_and_single_turn_keys_are_shared(recording,
                                                                      project: Path) -> None:
    srv = recording(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url, judge_extra=MULTI)
    cli_json(["compare", "base", "cand", "--pool", "mt", "--turns", "self"], project)
    srv.bodies.clear()
    out = cli_json(["compare", "base", "cand", "--pool", "mt"], project)
    assert "turns" not in out
    asked = checkpoint_requests(srv)
    # pool mode answers the last turn after the pool's answers; the single-turn prompt's
    # answer (the same request in both modes) comes from the cache
    assert len(asked) == 2 * 8
    assert all("A pool answer nobody should see." in json.dumps(b["messages"]) for b in asked)
    assert out["requests"]["baseline"] == {"cached": 1, "generated": 8}


def test_pool_default_from_config_and_a_single_conversation_judge_is_refused(
        recording, project: Path) -> None:
    srv = recording(make_scenario())
    write_config(project / "evalkit.toml", srv.base_url)  # the single-conversation template
    bad = run_cli(["compare", "base", "cand", "--pool", "mt", "--turns", "self"], project,
                  check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "pairwise_multiturn" in bad.stderr and "shows one conversation" in bad.stderr
    assert srv.bodies == []
    write_config(project / "evalkit.toml", srv.base_url, judge_extra=MULTI)
    with open(project / "evalkit.toml", "a") as fh:
        fh.write('\n[pools.mt]\nturns = "self"\n')
    out = cli_json(["compare", "base", "cand", "--pool", "mt"], project)
    assert out["turns"]["mode"] == "self"
    bad = run_cli(["compare", "base", "cand", "--pool", "mt", "--turns", "both"], project,
                  check=False)
    assert bad.returncode == 2 and "turns" in bad.stderr


def stored_turns(db: Path) -> dict[int, int]:
    """Successful generations by the number of user turns they answered."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("select p.messages_json from generation g left join prompt p on "
                           "p.hash = g.prompt_hash where g.error is null").fetchall()
    finally:
        con.close()
    out: dict[int, int] = {}
    for (messages,) in rows:
        k = 1 if messages is None else sum(m["role"] == "user" for m in json.loads(messages))
        out[k] = out.get(k, 0) + 1
    return out


def test_a_run_killed_after_turn_one_resumes_at_turn_two(recording, project: Path) -> None:
    srv = recording(make_scenario())
    srv.hold = True  # later turns never answer: the run is killed while they wait
    write_config(project / "evalkit.toml", srv.base_url, judge_extra=MULTI)
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "compare", "base", "cand",
                             "--pool", "mt", "--turns", "self", "--json"], cwd=project,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ)
    deadline = time.monotonic() + 60
    first_turns = 2 * 9  # every prompt's first turn, both checkpoints

    def done() -> int:
        return sum(srv.stats()["by_model"].get(m, {}).get("completed", 0)
                   for m in ("base", "cand"))

    while done() < first_turns or len(checkpoint_requests(srv)) < first_turns + 16:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    time.sleep(0.2)  # the group commit of the last first turns
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    # turn-1 answers are stored by the conversation they answered (no prompt row: the
    # single-turn prompt's is the pool's)
    assert sum(stored_turns(project / "evalkit.db").values()) == first_turns
    srv.hold = False
    before = len(srv.bodies)
    out = cli_json(["compare", "base", "cand", "--pool", "mt", "--turns", "self"], project)
    resumed = [b for b in srv.bodies[before:] if b["model"] != "judge"]
    assert resumed and all(sum(m["role"] == "user" for m in b["messages"]) > 1
                           for b in resumed)  # zero turn-1 requests repeated
    assert srv.stats()["completed_repeats"] == 0
    assert out["overall"]["n"] == 9 and out["overall"]["failed"] == 0
    assert out["requests"]["baseline"]["cached"] == 9  # the first turns, from the store
    print(f"\nkilled after {first_turns} first-turn answers were stored; the rerun asked "
          f"{len(resumed)} later turns and 0 first turns again")


def mt_bench_files(tmp: Path) -> tuple[Path, list[Path], list[Path], Path]:
    from test_importers import mt_bench_files as files

    return files(tmp)


def test_imported_mt_bench_turn_two_judgments_are_analysed(tmp_path: Path) -> None:
    q, answers, judgments, refs = mt_bench_files(tmp_path)
    args = ["import", "mt-bench", "--questions", str(q), "--references", str(refs)]
    for a in answers:
        args += ["--answers", str(a)]
    for j in judgments:
        args += ["--judgments", str(j)]
    info = cli_json([*args, "--db", "e.db"], tmp_path)
    t = info["turns"]
    assert t["pool"] == "mt_bench_turns" and t["prompts"] == 2 and t["judgments"] == 4
    (c,) = t["comparisons"]
    assert (c["judge"], c["baseline"], c["candidate"], c["n"]) == ("gpt-4", "ckpt-a",
                                                                   "ckpt-b", 2)
    # 81: game 1 (a first) B won -> candidate; game 2 (b first) tie -> tie;
    # 101: model_1 (a) won both games -> loss
    assert c["win_rate"] == pytest.approx(0.25)
    out = cli_json(["compare", "ckpt-a", "ckpt-b", "--pool", "mt_bench_turns", "--judge",
                    "gpt-4", "--db", "e.db"], tmp_path)
    assert out["turns"]["turn_by_turn_prompts"] == 2
    assert (out["overall"]["ties"], out["overall"]["losses"]) == (1, 1)
    assert out["requests"]["baseline"] == {"cached": 4}  # every turn from the import
    assert out["requests"]["judge"] == {"cached": 4}
    items = cli_json(["show", out["comparison_id"], "--items", "--db", "e.db"],
                     tmp_path)["items"]
    assert [(i["item_id"], i["outcome"]) for i in items] == [("81", "tie"), ("101", "loss")]
    turn1 = cli_json(["compare", "ckpt-a", "ckpt-b", "--pool", "mt_bench", "--judge", "gpt-4",
                      "--db", "e.db"], tmp_path)
    assert "turns" not in turn1 and turn1["overall"]["n"] == 1  # turn 1 as before


def test_real_mt_bench_questions_run_turn_by_turn(recording, tmp_path: Path) -> None:
    srv = recording(make_scenario())
    write_config(tmp_path / "evalkit.toml", srv.base_url, judge_extra=MULTI)
    questions = SHARED_DATA / "mt_bench" / "question.jsonl"
    first = json.loads(questions.read_text(encoding="utf-8").splitlines()[0])
    answer = {"question_id": first["question_id"], "model_id": "someone",
              "choices": [{"index": 0, "turns": ["One.", "Two."]}]}
    (tmp_path / "answers.jsonl").write_text(json.dumps(answer) + "\n", encoding="utf-8")
    info = cli_json(["import", "mt-bench", "--questions", str(questions), "--answers",
                     "answers.jsonl"], tmp_path)
    assert info["turns"]["prompts"] == 80 and info["turns"]["models"] == ["someone"]
    out = cli_json(["compare", "base", "cand", "--pool", "mt_bench_turns", "--limit", "6"],
                   tmp_path)
    assert out["turns"]["turn_by_turn_prompts"] == 6 and out["overall"]["failed"] == 0
    asked = checkpoint_requests(srv)
    assert sorted(sum(m["role"] == "user" for m in b["messages"]) for b in asked) == \
        [1] * 12 + [2] * 12


def test_shipped_pool_multi_turn_prompts_in_self_mode(recording, tmp_path: Path) -> None:
    srv = recording(make_scenario())
    write_config(tmp_path / "evalkit.toml", srv.base_url, judge_extra=MULTI)
    out = cli_json(["compare", "base", "cand", "--pool", "rlhf_prompts", "--turns", "self"],
                   tmp_path)
    assert out["turns"]["turn_by_turn_prompts"] == 52
    assert out["overall"]["failed"] == 0 and out["overall"]["n"] == 360
    assert not any("assistant" in [m["role"] for m in b["messages"]] and "[sim model="
                   not in next(m["content"] for m in b["messages"] if m["role"] == "assistant")
                   for b in checkpoint_requests(srv))  # no pool answer is ever sent


def test_multi_turn_templates_are_checked(tmp_path: Path) -> None:
    from evalkit.errors import ConfigError

    def write(user: str) -> str:
        path = tmp_path / "t.toml"
        path.write_text(f'name = "t"\nformat = "pairwise"\nuser = """{user}"""\n',
                        encoding="utf-8")
        return str(path)

    good = load_template(write("A:\n{conversation_a}\nB:\n{conversation_b}"))
    assert good.multiturn
    with pytest.raises(ConfigError, match="lacks the placeholder {conversation_b}"):
        load_template(write("{conversation_a}"))
    with pytest.raises(ConfigError, match="mixes {answer_a}"):
        load_template(write("{conversation_a} {conversation_b} {answer_a}"))
    p = PoolPrompt("x", ({"role": "user", "content": "q1"}, {"role": "user", "content": "q2"}))
    one, two = encode(["a1", "a2"]), encode(["b1", "b2"])
    text = good.render_pair(conversation(p, one), conversation(p, two), None)[0]["content"]
    assert text.index("q1") < text.index("a1") < text.index("q2") < text.index("a2") < \
        text.index("b1") < text.index("b2")
    assert "(last message, the one both replies answer)" not in text.split("A:")[1].split(
        "a2")[0]
    assert encode(["only"]) == "only" and conversation(p, "only")[-1]["content"] == "only"
