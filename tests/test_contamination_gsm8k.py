"""Real data: the GSM8K test questions scanned against the GSM8K train split, with five test
questions planted into a copy of it (verbatim, re-cased and re-punctuated, across the two
gzip members of the copy). The planted ones are found and labelled dirty; nothing else is.

What else matches, and why (docs/contamination.md, "GSM8K"): no other test question is
dirty; about 3% are *partial* — shared phrasing ("how many more minutes will it take",
"hours a day for 5 days a week") and a handful of problems whose setup reappears in train
with other numbers ("A plane travels 1200 miles in 3 hours. At the same rate, how many
additional hours …", 76% covered) — and three have a 13-gram hit.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from evalkit.contamination.corpus import CorpusSpec
from evalkit.contamination.items import Item, ItemSet
from evalkit.contamination.matches import highlight
from evalkit.contamination.scan import ScanOptions, run_scan
from evalkit.store import make_engine

GSM8K = SHARED_DATA / "gsm8k"
PLANTED = (0, 100, 500, 900, 1318)

pytestmark = pytest.mark.skipif(
    not (GSM8K / "test.jsonl").exists() or not (GSM8K / "train.jsonl.gz").exists(),
    reason=f"GSM8K is not in {GSM8K} (test.jsonl and train.jsonl.gz from the shared data)")


def test_gsm8k_test_questions_against_train_with_planted_copies(tmp_path: Path) -> None:
    test = [json.loads(line) for line in (GSM8K / "test.jsonl").read_text().splitlines()]
    with gzip.open(GSM8K / "train.jsonl.gz", "rt", encoding="utf-8") as fh:
        train = [json.loads(line) for line in fh]
    rng = random.Random(0)
    rows = [json.dumps({"question": t["question"], "answer": t["answer"]}) for t in train]
    for k, i in enumerate(PLANTED):
        q = test[i]["question"]
        if k == 1:  # re-cased, re-punctuated, re-spaced
            q = q.upper().replace(" ", "  ").replace(".", " ;")
        rows.insert(rng.randrange(len(rows)), json.dumps({"question": q, "answer": "#### 0"}))
    half = len(rows) // 2  # the copy is two gzip members; the split crosses no record
    (tmp_path / "train-copy.jsonl.gz").write_bytes(
        gzip.compress(("\n".join(rows[:half]) + "\n").encode())
        + gzip.compress(("\n".join(rows[half:]) + "\n").encode()))
    items = ItemSet("pool", "gsm8k-test", "v1", tuple(
        Item(f"test-{i}", t["question"], f"h{i}") for i, t in enumerate(test)))
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    res = run_scan(engine, CorpusSpec((str(tmp_path / "train-copy.jsonl.gz"),),
                                      field="question"), items, ScanOptions())
    by = {r["position"]: r for r in res.items}
    for i in PLANTED:
        assert by[i]["label"] == "dirty" and by[i]["fraction"] == 1.0, by[i]
        assert by[i]["hit"] is True
    others = [r for r in res.items if r["position"] not in PLANTED]
    assert not [r for r in others if r["label"] == "dirty"]
    partial = [r for r in others if r["label"] == "partial"]
    hits = [r for r in others if r["hit"]]
    assert len(partial) < 0.05 * len(others) and len(hits) <= 10
    assert all(r["longest"] < 30 for r in partial)
    print(f"\nGSM8K test ({len(test)}) vs train questions ({len(train)}) + {len(PLANTED)} "
          f"planted: planted found {len(PLANTED)}/{len(PLANTED)} dirty; others: "
          f"{len(partial)} partial, {len(hits)} with a 13-gram hit, 0 dirty")
    for r in sorted(partial, key=lambda r: -r["fraction"])[:5]:
        print(f"  {r['fraction']:.2f} longest {r['longest']}: "
              + highlight(r["text"], json.loads(r["spans_json"]))[:200])
