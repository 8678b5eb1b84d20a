"""The server reward-model backends against evalkit's scripted server, which answers vLLM's
``/classify`` and ``/pooling`` and TEI's ``/predict`` in their real shapes with scripted
rewards: each backend's scores equal the scripted ones (raw, no activation; the right logit or
label of a multi-output head; a token-level model's last token), texts go in batches, and
transient failures are retried; failed scores are stored rows, asked again by the next run."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from rm_helpers import with_rewards
from sqlalchemy import select

from evalkit.backends.reward_base import RewardInput, make_reward_backend, render_hh
from evalkit.errors import ConfigError
from evalkit.pools import PoolPrompt
from evalkit.reward.scorer import Scorer
from evalkit.reward.spec import parse_reward_model
from evalkit.store import make_engine
from evalkit.store.models import Score
from evalkit.testing.rewards import RewardScript

MODELS = {"noise": {"rule": "hash", "seed": 3},
          "head3": {"rule": "hash", "seed": 4, "num_labels": 3, "reward_index": 2,
                    "labels": ["bad", "meh", "good"]},
          "tokens": {"rule": "hash", "seed": 5, "token_level": True},
          "flaky": {"rule": "hash", "seed": 6, "failures": {"first": 1, "status": 503}},
          "dead": {"rule": "hash", "failures": {"dead": True, "status": 500}}}
ITEMS = [RewardInput(({"role": "user", "content": f"Question {i}: why is the sky blue?"},),
                     f"Answer {i}: because of Rayleigh scattering, roughly {i * 7} ways.")
         for i in range(37)]


def script(name: str) -> RewardScript:
    spec = {k: v for k, v in MODELS[name].items() if k != "failures"}
    return RewardScript(name=name, **spec)


def expected(name: str, pair: bool = False) -> list[float]:
    s = script(name)
    if pair:
        return [s.reward(i.question(), i.response) for i in ITEMS]
    return [s.reward(render_hh(i.messages, i.response)) for i in ITEMS]


def run_backend(raw: dict[str, Any], items: list[RewardInput] = ITEMS) -> list[Any]:
    backend = make_reward_backend(parse_reward_model("rm", raw))

    async def go() -> list[Any]:
        try:
            return await backend.score(items)
        finally:
            await backend.aclose()

    return asyncio.run(go())


@pytest.fixture
def srv(serve):
    return serve(with_rewards({"models": {}}, MODELS, tei="head3"))


@pytest.mark.parametrize("raw, name, pair", [
    ({"backend": "vllm", "model": "noise"}, "noise", False),
    ({"backend": "vllm", "model": "noise", "api": "pooling"}, "noise", False),
    ({"backend": "vllm", "model": "head3", "label_index": 2}, "head3", False),
    ({"backend": "vllm", "model": "head3", "label_index": 2, "api": "pooling"}, "head3", False),
    ({"backend": "vllm", "model": "tokens", "api": "pooling", "token_level": True}, "tokens",
     False),
    ({"backend": "tei", "label": "good"}, "head3", False),
    ({"backend": "tei", "label": "good", "input": "pair"}, "head3", True),
], ids=["classify", "pooling", "classify-3-logits", "pooling-3-logits", "pooling-token-level",
        "tei", "tei-pair"])
def test_each_backend_returns_the_scripted_rewards(srv, raw: dict[str, Any], name: str,
                                                   pair: bool) -> None:
    done = run_backend({**raw, "base_url": srv.base_url})  # .../v1 is dropped: root paths
    assert all(d.error is None and d.attempts == 1 for d in done), done[0]
    want = expected(name, pair)
    assert [d.score for d in done] == pytest.approx(want, abs=1e-9)
    assert len({round(w, 6) for w in want}) == len(want)
    stats = srv.stats()["by_model"][name]
    assert stats["requests"] == 1 and stats["texts"] == len(ITEMS)  # one batch of 37


def test_activation_stays_off(srv) -> None:
    """The servers apply a sigmoid unless told not to: evalkit's scores are the raw logits
    (the scripted rewards lie in [-2, 2], sigmoids would lie in (0, 1))."""
    done = run_backend({"backend": "vllm", "model": "noise", "base_url": srv.base_url})
    assert min(d.score for d in done) < 0
    assert [d.score for d in done] != pytest.approx(
        [1 / (1 + math.exp(-w)) for w in expected("noise")])


def test_a_multi_output_head_is_never_guessed(srv) -> None:
    with pytest.raises(ConfigError, match="3 outputs; set label_index"):
        run_backend({"backend": "vllm", "model": "head3", "base_url": srv.base_url})
    with pytest.raises(ConfigError, match=r"3 labels \(bad, good, meh\); set label = NAME"):
        run_backend({"backend": "tei", "base_url": srv.base_url})


def test_transient_failures_are_retried(srv) -> None:
    done = run_backend({"backend": "vllm", "model": "flaky", "base_url": srv.base_url,
                        "retry_base": 0.01})
    assert all(d.error is None and d.attempts == 2 for d in done)
    assert [d.score for d in done] == pytest.approx(expected("flaky"))
    assert srv.stats()["by_model"]["flaky"] == {"requests": 2, "errors": 1, "completed": 1,
                                                "texts": 37}


def prompts_and_responses() -> list[tuple[PoolPrompt, str]]:
    return [(PoolPrompt(id=f"p{i}", messages=it.messages), it.response)
            for i, it in enumerate(ITEMS)]


def score_all(url: str, raw: dict[str, Any], claims: bool = True) -> tuple[list[Any], Scorer]:
    engine = make_engine(url)
    scorer = Scorer(engine, make_reward_backend(parse_reward_model("rm", raw)), claims=claims)

    async def go() -> list[Any]:
        try:
            return await asyncio.gather(*(scorer.score(p, r)
                                          for p, r in prompts_and_responses()))
        finally:
            await scorer.aclose()

    return asyncio.run(go()), scorer


def test_scorer_batches_caches_and_stores(srv, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    raw = {"backend": "vllm", "model": "noise", "base_url": srv.base_url, "batch_size": 8}
    got, scorer = score_all(url, raw)
    assert [g.score for g in got] == pytest.approx(expected("noise"))
    assert scorer.requests == 5 and scorer.counts["scored"] == 37  # ceil(37 / 8) batches
    assert srv.stats()["by_model"]["noise"]["texts"] == 37
    again, scorer2 = score_all(url, {**raw, "batch_size": 4})  # batch size: not identity
    assert [g.score for g in again] == [g.score for g in got]
    assert scorer2.requests == 0 and scorer2.counts["cached"] == 37
    with make_engine(url).connect() as conn:
        rows = conn.execute(select(Score.__table__)).all()  # type: ignore[attr-defined]
    assert len(rows) == 37 and all(r.error is None for r in rows)


def test_failed_scores_are_rows_and_the_next_run_asks_again(serve, srv, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    dead = {"backend": "vllm", "model": "dead", "base_url": srv.base_url, "max_retries": 1,
            "retry_base": 0.01}
    got, scorer = score_all(url, dead)
    assert all(g.score is None and g.error.startswith("HTTP 500") for g in got)
    assert scorer.counts["failed"] == 37 and len(scorer.failed) == 37
    with make_engine(url).connect() as conn:
        stored = conn.execute(select(Score.__table__)).all()  # type: ignore[attr-defined]
    assert len(stored) == 37 and all(r.error and r.score is None for r in stored)
    # the same reward model (same identity: name and served model) answering again
    healed = serve(with_rewards({"models": {}}, {"dead": {"rule": "hash"}}))
    again, scorer2 = score_all(url, {**dead, "base_url": healed.base_url})
    assert scorer2.counts["scored"] == 37 and all(g.ok for g in again)
    assert [g.score for g in again] == pytest.approx(
        [RewardScript(name="dead").reward(render_hh(i.messages, i.response)) for i in ITEMS])
