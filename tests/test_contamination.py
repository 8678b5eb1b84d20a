"""Contamination scans on generated corpora with planted copies: verbatim, with case,
punctuation and spacing changed, partial (a known fraction), split across a gzip member and
across a shard boundary, compressed with gzip and zstd, in JSONL, Parquet and a saved dataset.
Every planted item is found with its exact fraction and label; nothing else is hit. The scan
also equals a naive reference on random chunkings, and a rescan comes from the store."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from evalkit.contamination import engine as E
from evalkit.contamination.corpus import CorpusSpec
from evalkit.contamination.items import Item, ItemSet
from evalkit.contamination.matches import Thresholds, score_items
from evalkit.contamination.scan import ScanOptions, run_scan, scan_local
from evalkit.store import make_engine

RNG = random.Random(7)
VOCAB = sorted({"".join(RNG.choice("bcdfghjklmnpqrstvwz") + RNG.choice("aeiou")
                        for _ in range(RNG.randint(1, 4))) for _ in range(6000)})


def words(k: int) -> list[str]:
    return [RNG.choice(VOCAB) for _ in range(k)]


def make_items(n: int = 40) -> list[str]:
    out = []
    for _ in range(n):
        w = words(RNG.randint(20, 40))
        w[0] = w[0].capitalize()
        out.append(" ".join(w[:8]) + ", " + " ".join(w[8:]) + "?")
    return out


def filler(lines: int) -> str:
    return "\n".join(" ".join(words(RNG.randint(5, 30))) for _ in range(lines)) + "\n"


def mangle(text: str) -> str:
    """Case, punctuation and spacing changed; the tokens stay."""
    toks = E.tokenize(text)
    seps = [" , ", ";", "\t", "  \n ", "-", "...", "/"]
    return "".join(t.upper() + RNG.choice(seps) for t in toks)


def prefix_words(text: str, k: int) -> str:
    return " ".join(E.tokenize(text)[:k])


def write_gzip_members(path: Path, parts: list[str]) -> None:
    path.write_bytes(b"".join(gzip.compress(p.encode()) for p in parts))


@pytest.fixture
def planted(tmp_path: Path) -> dict:
    """Shards: a two-member gzip, a zstd JSONL, a plain text file, a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    items = make_items()
    items[6] = "Die Straße ist ﬁne — «Café» NAÏVE façade, " + " ".join(words(20))
    expect: dict[int, float] = {}
    # shard 1 (gzip, two members): 0 verbatim; 4 split inside a word across the members
    t4 = prefix_words(items[4], 100)
    cut = t4.index(" ", len(t4) // 2) + 3  # inside a word
    m1 = filler(200) + items[0] + "\n" + filler(50) + t4[:cut]
    m2 = t4[cut:] + "\n" + filler(200)
    write_gzip_members(tmp_path / "s1.txt.gz", [m1, m2])
    expect.update({0: 1.0, 4: 1.0})
    # shard 2 (zstd JSONL): 1 mangled; 2 partial (10 tokens); 3 partial (85%)
    n2, n3 = len(E.tokenize(items[2])), len(E.tokenize(items[3]))
    k3 = int(np.ceil(0.85 * n3))
    docs = [{"text": " ".join(words(40))} for _ in range(300)]
    docs[50] = {"text": "intro " + mangle(items[1]) + " outro"}
    docs[120] = {"text": prefix_words(items[2], 10) + " " + " ".join(words(5))}
    docs[200] = {"text": " ".join(words(5)) + " " + prefix_words(items[3], k3)}
    raw = "\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n"
    (tmp_path / "s2.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(raw.encode()))
    expect.update({1: 1.0, 2: 10 / n2, 3: k3 / n3})
    # shards 3 and 4: item 5 across the boundary (the end of s3, the start of s4); item 6's
    # Unicode spelled another way
    t5 = E.tokenize(items[5])
    (tmp_path / "s3.txt").write_text(filler(100) + " ".join(t5[:12]), encoding="utf-8")
    body = ["DIE strasse IST FINE CAFE\u0301 — NAI\u0308VE FAÇADE "  # accents decomposed
            + " ".join(E.tokenize(items[6])[7:])]
    body[0] = " ".join(t5[12:]) + "\n" + body[0]
    rows = [" ".join(words(30)) for _ in range(100)]
    pq.write_table(pa.table({"text": body + rows, "n": list(range(len(rows) + 1))}),
                   tmp_path / "s4.parquet")
    expect.update({5: 1.0})
    expect[6] = 1.0
    paths = [str(tmp_path / p) for p in ("s1.txt.gz", "s2.jsonl.zst", "s3.txt", "s4.parquet")]
    return {"items": items, "expect": expect, "paths": paths, "tmp": tmp_path}


def item_set(texts: list[str]) -> ItemSet:
    return ItemSet("pool", "planted", "v1", tuple(
        Item(f"i{k}", t, f"h{k}", None, {"kind": "planted" if k < 7 else "other"})
        for k, t in enumerate(texts)))


def test_tokens_are_normalised_before_splitting() -> None:
    assert E.tokenize("Hello,World!  it's\tFINE") == ["hello", "world", "it", "s", "fine"]
    assert E.tokenize("Straße ﬁne Σίσυφος") == E.tokenize("STRASSE fine ΣΊΣΥΦΟΣ")
    assert E.tokenize("数学题目") == ["数", "学", "题", "目"]  # each ideograph a token
    assert E.tokenize("e\u0301cole") == E.tokenize("école")  # NFKC composes


def test_every_planted_item_is_found_with_its_fraction_and_label(planted: dict,
                                                                  tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    spec = CorpusSpec(tuple(planted["paths"]))
    res = run_scan(engine, spec, item_set(planted["items"]), ScanOptions())
    assert res.served_from == "scan" and json.loads(res.scan["problems_json"]) == []
    th = Thresholds()
    for row in res.items:
        k = row["position"]
        want = planted["expect"].get(k, 0.0)
        assert row["fraction"] == pytest.approx(want), (k, row)
        assert row["label"] == th.label(want), k
        if k in planted["expect"]:
            assert row["spans_json"] != "[]" and row["text"] == planted["items"][k]
        else:
            assert row["covered"] == 0 and not row["hit"] and row["text"] is None
    by = {r["position"]: r for r in res.items}
    assert by[2]["label"] == "partial" and by[3]["label"] == "dirty"
    assert by[2]["longest"] == 10 and by[2]["hit"] is False  # 10 tokens: no 13-gram
    assert by[0]["hit"] and by[4]["hit"] and by[5]["hit"]
    # the spans point at the item's own text (original case and punctuation)
    spans = json.loads(by[1]["spans_json"])
    assert spans == [[0, len(planted["items"][1]) - 1]]  # all but the final '?'
    s6 = json.loads(by[6]["spans_json"])
    assert s6 == [[0, len(planted["items"][6])]]
    assert planted["items"][6][s6[0][0]:s6[0][1]].startswith("Die Straße ist ﬁne — «Café»")
    # a rescan is served from the store; other thresholds only relabel
    again = run_scan(engine, spec, item_set(planted["items"]), ScanOptions())
    assert again.served_from == "store" and again.scan["id"] == res.scan["id"]
    other = run_scan(engine, spec, item_set(planted["items"]),
                     ScanOptions(thresholds=Thresholds(0.05, 0.5)))
    assert other.served_from == "store (relabelled)"
    assert {r["position"]: r["label"] for r in other.items}[2] == "partial"
    assert {r["position"]: r["label"] for r in other.items}[3] == "dirty"


def test_a_corpus_read_as_a_saved_dataset(planted: dict, tmp_path: Path) -> None:
    import datasets

    items = planted["items"]
    rows = [" ".join(words(30)) for _ in range(50)] + [mangle(items[9])]
    datasets.Dataset.from_dict({"content": rows}).save_to_disk(str(tmp_path / "ds"))
    idx = E.index_items(items, (8, 13))
    counts, problems = scan_local(CorpusSpec((str(tmp_path / "ds"),), field="content"),
                                  idx.patterns)
    got = score_items(idx, counts, items, 8, 13, Thresholds())
    assert not problems
    assert [m.index for m in got if m.covered] == [9] and got[9].fraction == 1.0


def _reference(texts: list[str], corpus: str, n: int) -> set[tuple[str, ...]]:
    toks = E.tokenize(corpus)
    grams = {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}
    out = set()
    for t in texts:
        tt = E.tokenize(t)
        out |= {tuple(tt[i:i + n]) for i in range(len(tt) - n + 1)} & grams
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunking_never_changes_the_result_and_matches_a_naive_reference(seed: int) -> None:
    rng = random.Random(seed)
    small = VOCAB[:40]  # a small vocabulary: many accidental 3- and 5-gram matches
    texts = [" ".join(rng.choice(small) for _ in range(rng.randint(3, 25))) for _ in range(60)]
    corpus = "\n".join(" ".join(rng.choice(small) for _ in range(rng.randint(0, 30)))
                       for _ in range(400)) + "\n"
    idx = E.index_items(texts, (3, 5))
    whole = E.Scanner(idx.patterns)
    whole.feed(corpus.encode())
    ref = whole.result()
    for n in (3, 5):
        found = set(ref.found[n][0].tolist())
        keys = idx.patterns.keys[n]
        want = set()
        for gram in _reference(texts, corpus, n):
            h = E.ngram_hashes(E.token_hashes(E.normalise(" ".join(gram))), n)
            want.add(int(np.searchsorted(keys, h[0])))
        assert found == want
    lines = corpus.encode().splitlines(keepends=True)
    for _ in range(5):  # random chunkings, and random splits merged as separate streams
        cuts = sorted(rng.sample(range(1, len(lines)), 12))
        parts = [b"".join(lines[a:b]) for a, b in zip([0, *cuts], [*cuts, len(lines)],
                                                      strict=True)]
        sc = E.Scanner(idx.patterns)
        for p in parts:
            sc.feed(p)
        streams = []
        for p in parts:
            one = E.Scanner(idx.patterns)
            one.feed(p)
            streams.append(one.result())
        for got in (sc.result(), E.merge(idx.patterns, streams)):
            for n in (3, 5):
                assert np.array_equal(got.found[n][0], ref.found[n][0])
                assert np.array_equal(got.found[n][1], ref.found[n][1])


def test_cli_scan_and_report(planted: dict, tmp_path: Path) -> None:
    rows = [{"id": f"i{k}", "prompt": t, "tags": {"kind": "planted" if k < 7 else "other"}}
            for k, t in enumerate(planted["items"])]
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run_cli(["pool", "import", "pl", "pool.jsonl", "--db", "e.db"], tmp_path)
    args = ["contamination", "scan", "--pool", "pl", "--db", "e.db", "--name", "web",
            *[a for p in planted["paths"] for a in ("--corpus", p)], "--json"]
    out = json.loads(run_cli(args, tmp_path).stdout)
    assert out["labels"] == {"clean": 33, "partial": 1, "dirty": 6, "short": 0}
    assert out["rates"]["by_tag"]["kind"]["other"]["rate"] == 0.0
    assert out["corpus"]["name"] == "web" and len(out["corpus"]["files"]) == 4
    assert out["dirtiest"][0]["fraction"] == 1.0
    again = json.loads(run_cli(args, tmp_path).stdout)
    assert again["served_from"] == "store" and again["scan_id"] == out["scan_id"]
    text = run_cli(["contamination", "report", "--pool", "pl", "--db", "e.db"], tmp_path).stdout
    assert "⟦" in text and "kind=planted" in text


def test_punctuation_glued_copies_that_the_janitor_misses_are_found() -> None:
    """lm-eval's janitor splits on whitespace before it strips punctuation, so a copy with
    'answer,which' or 'deep-thought' slips through it; normalising first catches it."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lm_eval.decontamination.janitor import Janitor
    item = "the answer which is forty two comes from deep thought computer"
    copy = "x the answer,which is forty two comes from deep-thought computer y"
    jan = Janitor(ngram_n=8, window_to_remove=0, minimum_slice_length=0)
    jan.register_contaminant_python(item)
    assert jan.clean_python(copy) == [copy]  # nothing removed: the janitor missed it
    idx = E.index_items([item], (8,))
    sc = E.Scanner(idx.patterns)
    sc.feed(copy.encode())
    assert score_items(idx, sc.result(), [item], 8, None, Thresholds())[0].fraction == 1.0


def test_store_round_trip_on_sqlite_and_postgresql(store_url: str, tmp_path: Path) -> None:
    from evalkit.contamination.report import exclusion
    from evalkit.store import contamination_queries as cq

    texts = make_items(6)
    (tmp_path / "c.txt").write_text(filler(20) + texts[2].lower() + "\n" + filler(5))
    engine = make_engine(store_url)
    spec = CorpusSpec((str(tmp_path / "c.txt"),))
    res = run_scan(engine, spec, item_set(texts), ScanOptions(), name="crawl")
    again = run_scan(engine, spec, item_set(texts), ScanOptions())
    assert again.served_from == "store" and again.items == res.items
    top = cq.dirtiest(engine, res.scan["id"], 3)
    assert top[0]["item_id"] == "i2" and top[0]["label"] == "dirty"
    assert exclusion(engine, "planted", "v1", "crawl")[0] == {"i2"}
    assert exclusion(engine, "planted", None, str(tmp_path / "c.txt"))[0] == {"i2"}
