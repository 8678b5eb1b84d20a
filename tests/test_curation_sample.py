"""Balanced sampling: the target distribution exactly where the source allows (every topic
⌊n/k⌋ or ⌈n/k⌉, small topics all of theirs), difficulty strata kept, reproducible by seed;
through ``evalkit pool sample`` as a new version with provenance."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import cli_json, run_cli

from evalkit.curation.sample import SampleSpec, draw
from evalkit.errors import ConfigError
from evalkit.pools import PoolPrompt

SIZES = {"math": 50, "coding": 30, "law": 8, "poetry": 2, "safety": 20}
LEVELS = ("easy", "medium", "hard")


def make_pool(sizes: dict[str, int] = SIZES, untagged: int = 0) -> list[PoolPrompt]:
    prompts = []
    for topic, k in sizes.items():
        for j in range(k):
            tags = {"topic": topic, "difficulty": LEVELS[(j * 7 + len(topic)) % 5 % 3]}
            prompts.append(PoolPrompt(f"{topic}-{j}", ({"role": "user", "content":
                                                        f"{topic} question {j}"},), tags))
    for j in range(untagged):
        prompts.append(PoolPrompt(f"u{j}", ({"role": "user", "content": f"untagged {j}"},)))
    return prompts


def topics(prompts: list[PoolPrompt], chosen: tuple[int, ...]) -> Counter[str]:
    return Counter(prompts[i].tags["topic"] for i in chosen)


def test_hits_the_even_split_exactly_where_the_source_allows() -> None:
    pool = make_pool()
    got = topics(pool, draw(pool, SampleSpec(n=50, balance="topic", seed=1)).chosen)
    # 5 topics, 10 each; poetry (2) and law (8) give all theirs; the other 40 split 3 ways
    assert got["poetry"] == 2 and got["law"] == 8
    assert sorted(got[t] for t in ("math", "coding", "safety")) == [13, 13, 14]
    even = topics(pool, draw(pool, SampleSpec(n=10, balance="topic", seed=0)).chosen)
    assert set(even.values()) == {2}
    for n in range(1, sum(SIZES.values()) + 1):
        d = draw(pool, SampleSpec(n=n, balance="topic", seed=n))
        got = topics(pool, d.chosen)
        assert sum(got.values()) == n and d.achieved == dict(sorted(got.items()))
        capped = {t for t in SIZES if got[t] == SIZES[t]}
        free = [got[t] for t in SIZES if t not in capped]
        if free:  # uncapped topics differ by at most one and none is below a capped one
            assert max(free) - min(free) <= 1
            assert all(SIZES[t] <= min(free) + 1 for t in capped)


def test_reproducible_by_seed_and_source_order_kept() -> None:
    pool = make_pool()
    a = draw(pool, SampleSpec(n=30, balance="topic", seed=7))
    b = draw(pool, SampleSpec(n=30, balance="topic", seed=7))
    c = draw(pool, SampleSpec(n=30, balance="topic", seed=8))
    assert a.chosen == b.chosen and a.order == b.order
    assert a.chosen != c.chosen
    assert list(a.chosen) == sorted(a.chosen)
    assert sorted(a.order) == list(range(len(pool)))  # an order of every eligible prompt


def test_stratified_by_difficulty_keeps_each_topic_mix() -> None:
    pool = make_pool()
    d = draw(pool, SampleSpec(n=60, balance="topic", stratify="difficulty", seed=3))
    for topic in SIZES:
        source = Counter(p.tags["difficulty"] for p in pool if p.tags["topic"] == topic)
        mine = Counter(pool[i].tags["difficulty"] for i in d.chosen
                       if pool[i].tags["topic"] == topic)
        k = sum(mine.values())
        for level, m in source.items():  # each prefix keeps the topic's own proportions
            assert abs(mine[level] - k * m / SIZES[topic]) < 1.0 + 1e-9
    assert sum(d.strata_achieved.values()) == 60
    # stratified without balance: the pool's own mix
    s = draw(pool, SampleSpec(n=33, stratify="difficulty", seed=0))
    total = Counter(p.tags["difficulty"] for p in pool)
    for level, m in total.items():
        assert abs(s.strata_achieved[level] - 33 * m / len(pool)) < 1.0 + 1e-9


def test_untagged_prompts_and_bad_requests() -> None:
    pool = make_pool(untagged=5)
    d = draw(pool, SampleSpec(n=20, balance="topic"))
    assert d.left_out == 5 and all(pool[i].tags for i in d.chosen)
    with pytest.raises(ConfigError, match="more than the 110 prompts with a 'topic' tag"):
        draw(pool, SampleSpec(n=111, balance="topic"))
    with pytest.raises(ConfigError, match="no tag 'cluster'"):
        draw(pool, SampleSpec(n=5, balance="cluster"))
    with pytest.raises(ConfigError, match="discriminative needs stored comparisons"):
        draw(pool, SampleSpec(n=5, prefer="discriminative"))
    with pytest.raises(ConfigError):
        SampleSpec(n=5, prefer="hardest")


def test_topic_falls_back_to_the_classifier_label() -> None:
    pool = [PoolPrompt(p.id, p.messages, {"llm.topic": p.tags["topic"]}) for p in make_pool()]
    d = draw(pool, SampleSpec(n=10, balance="topic"))
    assert d.balance_tag == "llm.topic" and set(d.achieved.values()) == {2}


def test_sample_cli_stores_a_balanced_version(tmp_path: Path) -> None:
    from evalkit.catalog import store_pool
    from evalkit.store import make_engine, pool_queries, queries

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    store_pool(engine, "mix", make_pool(), source="test")
    args = ["pool", "sample", "mix", "--n", "40", "--balance", "topic", "--stratify",
            "difficulty", "--seed", "5", "--db", "s.db"]
    out = cli_json([*args, "--as", "mix-40"], tmp_path)
    # 8 each; poetry has 2, law 8: the other 30 split evenly
    assert out["achieved"] == {"coding": 10, "law": 8, "math": 10, "poetry": 2, "safety": 10}
    assert out["pool"]["name"] == "mix-40" and out["pool"]["prompts"] == 40
    pool = queries.find_pool(engine, "mix-40")
    assert pool is not None and pool.id is not None and pool.version == out["pool"]["version"]
    chosen = queries.pool_prompts(engine, pool.id)
    assert dict(sorted(Counter(p.tags["topic"] for p in chosen).items())) == out["achieved"]
    d = pool_queries.derivation(engine, pool.id)
    assert d is not None and d.operation == "sample"
    assert d.params == {"n": 40, "balance": "topic", "stratify": "difficulty",
                        "prefer": "random", "seed": 5}
    text = run_cli(args, tmp_path).stdout  # into pool 'mix' itself: its new latest version
    assert "poetry: 2 / 2" in text and "law: 8 / 8" in text and "math: 10 / 50" in text
    latest = queries.find_pool(engine, "mix")
    assert latest is not None and latest.version == out["pool"]["version"]  # same content
    bad = run_cli(["pool", "sample", "mix", "--n", "500", "--balance", "topic", "--db",
                   "s.db"], tmp_path, check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "more than the 40 prompts with a 'topic' tag" in bad.stderr  # the latest version
