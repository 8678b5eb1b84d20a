"""Tests for evalkit.testing: the scripted models and the real OpenAI-compatible HTTP server."""

from __future__ import annotations

import http.client
import json
import math
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from evalkit.testing import ChatScript, JudgeScript, ScriptedServer
from evalkit.testing.scripts import MARKER_RE

FINAL_RE = re.compile(r"\[\[([^\]]+)\]\]")
GRADED = {"A>>B", "A>B", "A=B", "B>A", "B>>A"}


# --------------------------------------------------------------------------- helpers


def marker(model: str, prompt_hash: str) -> str:
    return f"[sim model={model} prompt={prompt_hash}]"


def judge_messages(answer_a: str, answer_b: str, question: str = "Q?") -> list[dict[str, str]]:
    """A rendered pairwise judge prompt holding two answers (position A first)."""
    user = (f"[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_a}\n"
            f"[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n"
            f"{answer_b}\n[The End of Assistant B's Answer]")
    return [{"role": "system", "content": "You are an impartial judge."},
            {"role": "user", "content": user}]


def final_verdict(text: str) -> str | None:
    """The last [[...]] token of a judge reply, or None."""
    found = FINAL_RE.findall(text)
    return found[-1] if found else None


def prompt_hash(i: int) -> str:
    return f"{i:010x}"


def http_json(method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    """One raw HTTP request (fresh connection); returns (status, headers, parsed body)."""
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())


def root_of(base_url: str) -> str:
    return base_url.removesuffix("/v1")


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


# --------------------------------------------------------------------------- the openai SDK


def test_openai_sdk_chat_models_and_unknown_model() -> None:
    scenario = {"models": {"ckpt-a": {"kind": "chat", "words": 20},
                           "ckpt-b": {"kind": "chat", "words": 40},
                           "judge": {"kind": "judge"}}}
    messages = [{"role": "user", "content": "What is two plus two?"}]
    expected_text, expected_finish = ChatScript("ckpt-a", words=20).answer(messages)
    with ScriptedServer(scenario) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, timeout=10)
        try:
            resp = client.chat.completions.create(model="ckpt-a", messages=messages)
            assert resp.model == "ckpt-a"
            choice = resp.choices[0]
            assert choice.message.role == "assistant"
            assert choice.message.content == expected_text
            assert choice.finish_reason == expected_finish == "stop"
            assert re.match(r"\[sim model=ckpt-a prompt=[0-9a-f]{10}\] \w", expected_text)
            assert resp.usage is not None
            assert resp.usage.prompt_tokens == 5  # "What is two plus two?"
            assert resp.usage.completion_tokens == len(expected_text.split())
            assert resp.usage.total_tokens == 5 + len(expected_text.split())

            short = client.chat.completions.create(model="ckpt-b", messages=messages,
                                                   max_tokens=3)
            assert short.choices[0].finish_reason == "length"
            assert short.choices[0].message.content.startswith("[sim model=ckpt-b prompt=")
            # the marker's three words come on top of the max_tokens body words
            assert short.usage is not None and short.usage.completion_tokens == 3 + 3

            assert sorted(m.id for m in client.models.list()) == ["ckpt-a", "ckpt-b", "judge"]

            with pytest.raises(openai.NotFoundError) as info:
                client.chat.completions.create(model="no-such-model", messages=messages)
            assert info.value.status_code == 404
            assert "no-such-model" in str(info.value)
        finally:
            client.close()


def test_stop_closes_keep_alive_connections() -> None:
    """A client holding a keep-alive connection sees the server go, rather than hanging."""
    srv = ScriptedServer({"models": {"m": {"kind": "chat"}}}).start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=3)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(CHAT),
                     headers={"Content-Type": "application/json"})
        first = conn.getresponse()
        assert first.status == 200
        first.read()
        srv.stop()
        start = time.perf_counter()
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            conn.request("POST", "/v1/chat/completions", body=json.dumps(CHAT),
                         headers={"Content-Type": "application/json"})
            conn.getresponse()
        assert time.perf_counter() - start < 1.0
    finally:
        conn.close()
        srv.stop()


# --------------------------------------------------------------------------- ChatScript


def test_chat_script_is_deterministic_and_truncates() -> None:
    script = ChatScript("ckpt", words=60)
    msgs = [{"role": "user", "content": "Explain recursion."}]
    text, finish = script.answer(msgs)
    assert (text, finish) == script.answer([dict(m) for m in msgs])
    assert finish == "stop"
    (model, phash), = MARKER_RE.findall(text)
    assert model == "ckpt" and len(phash) == 10
    n_words = len(text.split()) - 3  # the marker is three whitespace-separated tokens
    assert 30 <= n_words <= 90  # words * (0.5 + u), u in [0, 1)

    other, _ = script.answer([{"role": "user", "content": "Explain iteration."}])
    assert other != text
    assert MARKER_RE.findall(other)[0][1] != phash
    # another model on the same prompt: same prompt hash, different name
    assert MARKER_RE.findall(ChatScript("other").answer(msgs)[0])[0] == ("other", phash)

    cut, cut_finish = script.answer(msgs, max_tokens=5)
    assert cut_finish == "length"
    assert cut.split() == text.split()[:3 + 5]
    assert script.answer(msgs, max_tokens=1000) == (text, "stop")
    assert ChatScript("e", empty=True).answer(msgs) == ("", "stop")


# --------------------------------------------------------------------------- JudgeScript


def test_judge_win_rate_matches_true_rate() -> None:
    judge = JudgeScript("judge", strengths={"base": 0.0, "cand": 0.6}, tie_prob=0.15, seed=7)
    n = 4000
    wins = ties = losses = 0
    for i in range(n):
        a = marker("base", prompt_hash(i)) + " some answer"
        b = marker("cand", prompt_hash(i)) + " another answer"
        first = final_verdict(judge.verdict(judge_messages(a, b)))  # cand in position B
        second = final_verdict(judge.verdict(judge_messages(b, a)))  # cand in position A
        pair = (first, second)
        assert pair in {("B", "A"), ("A", "B"), ("C", "C")}, pair  # order-consistent
        wins += pair == ("B", "A")
        losses += pair == ("A", "B")
        ties += pair == ("C", "C")
    assert wins + ties + losses == n

    p_true = 1 / (1 + math.exp(-0.6))
    true_rate = judge.true_win_rate("base", "cand")
    assert true_rate == pytest.approx(0.85 * p_true + 0.075)
    assert judge.true_win_rate("cand", "base") == pytest.approx(1 - true_rate)

    def within_3se(observed: float, expected: float, var: float) -> bool:
        return abs(observed - expected) <= 3 * math.sqrt(var / n)

    score = (wins + 0.5 * ties) / n
    # per-prompt score is 1, 0.5 or 0: its variance under the model
    p_win, p_tie = 0.85 * p_true, 0.15
    var_score = p_win + 0.25 * p_tie - true_rate**2
    assert within_3se(score, true_rate, var_score)
    assert within_3se(ties / n, 0.15, 0.15 * 0.85)
    assert within_3se(wins / n, p_win, p_win * (1 - p_win))


def test_judge_order_consistency_and_position_bias() -> None:
    fair = JudgeScript("j", strengths={"x": 0.0, "y": 0.0}, seed=3)
    biased = JudgeScript("j", strengths={"x": 0.0, "y": 0.0}, position_bias=1.0, seed=3)
    seen = set()
    for i in range(200):
        a, b = marker("x", prompt_hash(i)), marker("y", prompt_hash(i))
        forward = final_verdict(fair.verdict(judge_messages(a, b)))
        backward = final_verdict(fair.verdict(judge_messages(b, a)))
        assert {forward, backward} == {"A", "B"}  # swapping the answers flips A/B
        seen.add(forward)
        assert final_verdict(biased.verdict(judge_messages(a, b))) == "A"
        assert final_verdict(biased.verdict(judge_messages(b, a))) == "A"
    assert seen == {"A", "B"}
    # the verdict is a pure function of the prompt
    msgs = judge_messages(marker("x", "ab"), marker("y", "ab"))
    assert fair.verdict(msgs) == fair.verdict(json.loads(json.dumps(msgs)))


def test_judge_invalid_and_reask() -> None:
    a, b = marker("x", prompt_hash(1)), marker("y", prompt_hash(1))
    first = judge_messages(a, b)
    for reask_fixes in (False, True):
        judge = JudgeScript("j", invalid_rate=1.0, reask_fixes=reask_fixes)
        reply = judge.verdict(first)
        assert "[[" not in reply and final_verdict(reply) is None
        reask = [*first, {"role": "assistant", "content": reply},
                 {"role": "user", "content": "Give your final verdict as [[A]], [[B]] or "
                                             "[[C]]."}]
        again = judge.verdict(reask)
        if reask_fixes:
            assert final_verdict(again) in {"A", "B", "C"}
        else:
            assert final_verdict(again) is None
    # fewer than two markers: no verdict either
    assert final_verdict(JudgeScript("j").verdict(judge_messages(a, "plain text"))) is None


def test_judge_quote_trap_and_graded_styles() -> None:
    trap = JudgeScript("j", strengths={"x": -3.0, "y": 3.0}, style="quote_trap")
    reply = trap.verdict(judge_messages(marker("x", "aa"), marker("y", "aa")))
    assert final_verdict(reply) == "B"  # y is far stronger and sits in position B
    assert "[[A]]" in reply
    assert reply.index("[[A]]") < reply.rindex("[[B]]")
    assert reply.rstrip().endswith("Final verdict: [[B]]")

    graded = JudgeScript("j", strengths={"x": 0.0, "y": 0.0}, tie_prob=0.2, style="graded",
                         strong_prob=0.4)
    tokens = set()
    for i in range(300):
        text = graded.verdict(judge_messages(marker("x", prompt_hash(i)),
                                             marker("y", prompt_hash(i))))
        token = final_verdict(text)
        assert token in GRADED
        tokens.add(token)
    assert tokens == GRADED


# --------------------------------------------------------------------------- failures & stats


def test_first_failures_429_with_retry_after() -> None:
    scenario = {"models": {"m": {"failures": {"first": 2, "status": 429,
                                              "retry_after": 0.01}}}}
    with ScriptedServer(scenario) as srv:
        url = srv.base_url + "/chat/completions"
        results = [http_json("POST", url, CHAT) for _ in range(3)]
        assert [status for status, _, _ in results] == [429, 429, 200]
        for _, headers, body in results[:2]:
            assert headers["Retry-After"] == "0.01"
            assert body["error"]["message"] == "scripted failure"
        assert "Retry-After" not in results[2][1]
        assert results[2][2]["choices"][0]["message"]["content"].startswith("[sim model=m ")
        # another distinct request fails its own first two attempts
        other = {**CHAT, "messages": [{"role": "user", "content": "different"}]}
        assert http_json("POST", url, other)[0] == 429
        stats = srv.stats()
        assert stats["requests"] == 4
        assert stats["completed"] == 1
        assert stats["by_model"]["m"] == {"requests": 4, "errors": 3, "completed": 1}


def test_dead_model_always_503_and_unknown_routes() -> None:
    scenario = {"models": {"dead": {"failures": {"dead": True, "status": 503}},
                           "ok": {"kind": "chat"}}}
    with ScriptedServer(scenario) as srv:
        url = srv.base_url + "/chat/completions"
        statuses = [http_json("POST", url, {**CHAT, "model": "dead"}) for _ in range(4)]
        assert [s for s, _, _ in statuses] == [503] * 4
        assert all("Retry-After" not in h for _, h, _ in statuses)
        assert http_json("POST", url, {**CHAT, "model": "ok"})[0] == 200
        assert http_json("POST", url, {**CHAT, "model": "nope"})[0] == 404
        assert http_json("POST", url, b"not json")[0] == 400
        assert http_json("GET", srv.base_url + "/embeddings")[0] == 404


NO_FAULTS: dict[str, Any] = {"faults": {}, "faults_survived": {}, "scripted": {}}


def raw_post(url: str, body: dict[str, Any]) -> tuple[int, bytes] | str:
    """One POST on a fresh connection: (status, raw body), or the exception's class name when
    the server drops the connection or cuts the body."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        conn.request("POST", parts.path, json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        conn.close()


def test_fault_mix_is_seeded_per_attempt_and_counted() -> None:
    from evalkit.testing.scripts import FAULT_KINDS, FaultMix

    mix = FaultMix(rate=0.5, seed=3, hang=0.3)
    draws = [mix.pick("k", attempt) for attempt in range(1, 400)]
    assert draws == [mix.pick("k", attempt) for attempt in range(1, 400)]  # reproducible
    assert 150 < sum(d is not None for d in draws) < 250
    assert {d for d in draws if d} == set(FAULT_KINDS)
    with pytest.raises(ValueError, match="unknown kinds"):
        FaultMix(kinds=("418",))

    seen: dict[str, Any] = {}
    for kind in FAULT_KINDS:  # one server per kind: every attempt fails in that way
        with ScriptedServer({"faults": {"rate": 1.0, "kinds": [kind], "hang": 0.3,
                                        "retry_after": 0.5},
                             "models": {"m": {"kind": "chat"}}}) as srv:
            seen[kind] = raw_post(srv.base_url + "/chat/completions", CHAT)
            assert srv.stats()["faults"] == {kind: 1}
            assert srv.stats()["faults_survived"] == {kind: 0}
    assert seen["429"][0] == 429 and seen["503"][0] == 503 and seen["502"][0] == 502
    assert seen["500"][0] == 500 and seen["429_retry_after"][0] == 429
    assert seen["timeout"] in ("RemoteDisconnected", "TimeoutError", "BadStatusLine")
    assert seen["reset"] in ("RemoteDisconnected", "ConnectionResetError", "BadStatusLine")
    assert seen["truncated_body"] == "IncompleteRead"
    assert seen["malformed_json"][0] == 200
    with pytest.raises(ValueError):
        json.loads(seen["malformed_json"][1])
    assert json.loads(seen["empty_choices"][1])["choices"] == []
    assert json.loads(seen["empty_content"][1])["choices"][0]["message"]["content"] == ""


def test_survived_faults_deterministic_answers_and_no_models_route() -> None:
    scenario = {"list_models": False,
                "models": {"m": {"failures": {"faults": {"rate": 0.5, "seed": 1,
                                                         "kinds": ["500"]}}},
                           "cut": {"failures": {"length": 1.0}},
                           "filtered": {"failures": {"content_filter": 1.0}},
                           "broken": {"failures": {"always": 1.0, "status": 502}}}}
    with ScriptedServer(scenario) as srv:
        url = srv.base_url + "/chat/completions"
        statuses = [http_json("POST", url, CHAT)[0] for _ in range(12)]
        assert 200 in statuses and 500 in statuses
        stats = srv.stats()
        assert stats["faults"] == {"500": statuses.count(500)}
        assert stats["faults_survived"] == stats["faults"]  # the request was answered later
        cut = http_json("POST", url, {**CHAT, "model": "cut"})[2]["choices"][0]
        full, _ = ChatScript("cut").answer(CHAT["messages"])
        assert cut["finish_reason"] == "length"
        assert full.startswith(cut["message"]["content"]) and full != cut["message"]["content"]
        filtered = http_json("POST", url, {**CHAT, "model": "filtered"})[2]["choices"][0]
        assert filtered == {**filtered, "finish_reason": "content_filter",
                            "message": {"role": "assistant", "content": ""}}
        assert [http_json("POST", url, {**CHAT, "model": "broken"})[0] for _ in range(3)] == [
            502] * 3
        assert srv.stats()["scripted"] == {"length": 1, "content_filter": 1}
        assert http_json("GET", srv.base_url + "/models")[0] == 404


def test_stats_count_repeats_and_reset() -> None:
    with ScriptedServer({"models": {"m": {"kind": "chat"}}}) as srv:
        url = srv.base_url + "/chat/completions"
        stats_url = root_of(srv.base_url) + "/_evalkit/stats"
        assert http_json("GET", stats_url)[2] == {"requests": 0, "completed": 0,
                                                  "completed_repeats": 0, "by_model": {},
                                                  "first_request_at": {}, **NO_FAULTS}
        before = time.time()
        body = json.dumps(CHAT).encode()
        assert http_json("POST", url, body)[0] == 200
        assert http_json("POST", url, body)[0] == 200  # the very same body again
        other = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x"}]}).encode()
        assert http_json("POST", url, other)[0] == 200
        status, _, stats = http_json("GET", stats_url)
        assert status == 200
        first = stats.pop("first_request_at")
        assert set(first) == {"chat"} and before <= first["chat"] <= time.time()
        assert stats == {"requests": 3, "completed": 3, "completed_repeats": 1,
                         "by_model": {"m": {"requests": 3, "completed": 3}}, **NO_FAULTS}
        assert http_json("POST", root_of(srv.base_url) + "/_evalkit/reset", b"")[2] == {
            "ok": True}
        assert http_json("GET", stats_url)[2] == {"requests": 0, "completed": 0,
                                                  "completed_repeats": 0, "by_model": {},
                                                  "first_request_at": {}, **NO_FAULTS}
        # after a reset the same body counts as new again
        assert http_json("POST", url, body)[0] == 200
        assert srv.stats()["completed_repeats"] == 0


# --------------------------------------------------------------------------- the CLI


def test_serve_subprocess(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"models": {"sim-a": {"kind": "chat", "words": 10}}}),
                        encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit.testing", "serve", str(scenario), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(15)
        assert lines and lines[0], "no base URL printed"
        base_url = lines[0].strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base_url)
        assert not base_url.endswith(":0/v1")

        status, _, models = http_json("GET", base_url + "/models")
        assert status == 200 and [m["id"] for m in models["data"]] == ["sim-a"]
        status, _, body = http_json("POST", base_url + "/chat/completions",
                                    {**CHAT, "model": "sim-a"})
        assert status == 200
        expected, _ = ChatScript("sim-a", words=10).answer(CHAT["messages"])
        assert body["choices"][0]["message"]["content"] == expected
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode is not None
