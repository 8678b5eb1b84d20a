"""Near-duplicate detection: planted near-duplicates (case, punctuation, a changed word) are
found and nothing else — on their own, against the exact all-pairs reference, and through
``evalkit pool dedup`` (a new version without them; --dry-run stores nothing)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from conftest import cli_json, run_cli

from evalkit.curation.dedup import (
    DedupConfig,
    all_pairs_jaccard,
    find_duplicates,
    normalize_text,
)

DISTINCT = [
    "Explain the difference between a process and a thread in operating systems.",
    "Write a short poem about the sea at night, with a rhyme in every second line.",
    "What is the derivative of x squared times the sine of x?",
    "Summarise the main causes of the First World War in three bullet points.",
    "How do I reverse a linked list in place in C?",
    "Is it legal to record a phone call without telling the other person in California?",
    "Give me a weekly vegetarian meal plan for a family of four on a budget.",
    "Translate 'where is the train station' into German, French and Spanish.",
    "Why is the sky blue during the day but red at sunset?",
    "Draft a polite email asking my landlord to fix the heating.",
    "What are the pros and cons of index funds compared with picking single stocks?",
    "Prove that the square root of two is irrational.",
    "Describe how a bill becomes law in the United Kingdom.",
    "Suggest five names for a bakery that specialises in sourdough bread.",
    "What is the time complexity of quicksort in the worst case, and why?",
    "Plan a three-day hiking trip in the Scottish Highlands in October.",
    "How should I store fresh herbs so they last longer in the fridge?",
    "Write a SQL query that finds the second highest salary in an employees table.",
    "Explain the Monty Hall problem to a ten-year-old.",
    "What were the main achievements of the Meiji Restoration in Japan?",
    "Role-play as a medieval innkeeper greeting a tired traveller.",
    "Extract every date mentioned in this text: the meeting moved from 3 May to 10 June.",
    "Compare the battery chemistry of lithium iron phosphate and NMC cells.",
    "How can I politely decline a wedding invitation from a colleague?",
    "Tell me a joke about statisticians and confidence intervals.",
]
# planted near-duplicates of DISTINCT[i]: case, punctuation, a changed word, and both
PLANTED = {
    0: "explain the DIFFERENCE between a process and a thread in operating systems",
    2: "What is the derivative of x squared, times the sine of x??",
    4: "How do I reverse a linked list in place in Rust?",
    8: "Why is the sky blue during the day but orange at sunset?",
    13: "SUGGEST five names for a bakery that specialises in sourdough bread!",
    17: "Write a SQL query that finds the second highest salary in a employees table.",
}


def planted_pool() -> tuple[list[str], set[tuple[int, int]]]:
    texts = list(DISTINCT)
    truth = set()
    for i, variant in PLANTED.items():
        texts.append(variant)
        truth.add((i, len(texts) - 1))
    texts.append(DISTINCT[20])  # an exact copy
    truth.add((20, len(texts) - 1))
    return texts, truth


def cluster_pairs(result) -> set[tuple[int, int]]:
    return {pair for c in result.clusters for pair in combinations(c.members, 2)}


def test_planted_near_duplicates_are_found_and_nothing_else() -> None:
    texts, truth = planted_pool()
    result = find_duplicates(texts)
    assert cluster_pairs(result) == truth
    assert all(c.keep < min(c.dropped) for c in result.clusters)  # the first one is kept
    kinds = {c.members: c.kind for c in result.clusters}
    assert kinds[(0, 25)] == "exact" and kinds[(13, 29)] == "exact"  # case + punctuation
    assert kinds[(2, 26)] == "exact" and kinds[(20, 31)] == "exact"
    assert kinds[(4, 27)] == "near" and kinds[(8, 28)] == "near"
    near = {(p.a, p.b): p.jaccard for p in result.pairs}
    assert 0.7 <= near[(4, 27)] < 1 and 0.7 <= near[(8, 28)] < 1
    assert result.keep == tuple(range(25))
    assert result.duplicate_rate == pytest.approx(7 / 32)
    # the exact all-pairs reference finds the same pairs
    assert {(p.a, p.b) for p in all_pairs_jaccard(texts, 0.7)} == truth


def test_threshold_and_normalisation() -> None:
    assert normalize_text("  Hello,   WORLD!! ") == "hello world"
    assert normalize_text("Ｆｕｌｌ－width") == "full width"  # NFKC
    texts = ["alpha beta gamma delta epsilon zeta", "alpha beta gamma delta epsilon theta"]
    strict = find_duplicates(texts, DedupConfig(threshold=0.95))
    loose = find_duplicates(texts, DedupConfig(threshold=0.5))
    assert not strict.clusters and len(loose.clusters) == 1
    # texts of punctuation only are not all duplicates of each other
    assert not find_duplicates(["???", "!!!", "a real question here"]).clusters
    assert find_duplicates(["???", "???"]).clusters[0].kind == "exact"
    with pytest.raises(ValueError):
        DedupConfig(num_perm=100, bands=32)


def test_lsh_matches_exact_pairs_on_random_prompts() -> None:
    """A few hundred generated prompts with planted variants: every exact pair >= 0.7 is in
    one LSH cluster."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from dedup_speed import generate

    texts, groups = generate(600, seed=3)
    exact = {(p.a, p.b) for p in all_pairs_jaccard(texts, 0.7)}
    found = cluster_pairs(find_duplicates(texts))
    assert exact and exact <= found
    planted = {pair for g in groups for pair in combinations(sorted(g), 2)}
    assert found <= planted  # nothing but planted duplicates


def test_pool_dedup_cli_writes_a_version_without_duplicates(tmp_path: Path) -> None:
    from evalkit.catalog import store_pool
    from evalkit.pools import PoolPrompt
    from evalkit.store import make_engine, queries

    texts, truth = planted_pool()
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    source, _ = store_pool(engine, "planted", [
        PoolPrompt(f"p{i:02d}", ({"role": "user", "content": t},), {"topic": f"t{i % 3}"})
        for i, t in enumerate(texts)], source="test")
    dry = cli_json(["pool", "dedup", "planted", "--dry-run", "--db", "s.db"], tmp_path)
    assert dry["pool"]["version"] is None and dry["removed"] == 7
    assert len(queries.list_pools(engine)) == 1  # a dry run stores nothing
    out = cli_json(["pool", "dedup", "planted", "--db", "s.db"], tmp_path)
    assert out["pool"]["kept"] == 25 and out["exact_removed"] == 4 and out["near_removed"] == 3
    dropped = {d for c in out["cluster_list"] for d in c["drop"]}
    assert dropped == {f"p{j:02d}" for _, j in truth}
    latest = queries.find_pool(engine, "planted")
    assert latest is not None and latest.version == out["pool"]["version"]
    assert latest.n_prompts == 25 and latest.source == f"dedup of planted@{source.version}"
    from evalkit.curation.dedup import dedup_pool

    again = dedup_pool(engine, "planted")
    assert not again.result.clusters and again.version is None
    text = run_cli(["pool", "dedup", "planted", "--version", source.version, "--dry-run",
                    "--db", "s.db"], tmp_path).stdout
    assert "7 to remove (4 exact, 3 near" in text and "keep p04, drop p27" in text
