"""Real data: the 500 Arena-Hard v0.1 prompts (``../shared/data/arena-hard-v0.1``) with their
``cluster`` tags as human tags. A classifier with planted answers (80% the right cluster, 15%
another one, 5% unparsable) must get exactly the agreement report an independent count gives;
the scripted keyword classifier (a real, weak rule) must do far better than chance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SHARED_DATA

from evalkit.catalog import store_pool
from evalkit.config import parse_config
from evalkit.curation.annotate import annotate_pool
from evalkit.curation.classifier import load_classifier_template, render_conversation
from evalkit.curation.taxonomy import Taxonomy
from evalkit.pools import FieldMap, read_pool
from evalkit.store import make_engine

QUESTIONS = SHARED_DATA / "arena-hard-v0.1" / "question.jsonl"


@pytest.fixture(scope="module")
def arena() -> Any:
    if not QUESTIONS.exists():
        pytest.skip(f"Arena-Hard v0.1 prompts not found at {QUESTIONS}: this real-data test "
                    "needs ../shared/data (CI has it)")
    prompts = read_pool(QUESTIONS, FieldMap(id="uid", tags=("cluster",)))
    clusters = list(dict.fromkeys(p.tags["cluster"] for p in prompts))
    return prompts, Taxonomy.from_values("arena-hard-clusters", clusters)


def planted(prompts: list[Any], clusters: list[str], seed: int = 13
            ) -> tuple[dict[str, Any], dict[str, str | None]]:
    rng = np.random.default_rng(seed)
    labels: dict[str, Any] = {}
    predicted: dict[str, str | None] = {}
    for p in prompts:
        u = rng.random()
        key = render_conversation(p.messages).strip()
        if u < 0.05:
            labels[key], predicted[p.id] = "Sorry, I can only say it is a hard one.", None
            continue
        topic = p.tags["cluster"]
        if u >= 0.85:
            others = [c for c in clusters if c != topic]
            topic = others[int(rng.integers(0, len(others)))]
        labels[key] = {"topic": topic, "difficulty": "hard", "quality": "ok",
                       "reason": "A real user prompt.", "language": "en"}
        predicted[p.id] = topic
    return labels, predicted


def test_agreement_report_on_arena_hard_clusters(arena: Any, tmp_path: Path, serve) -> None:
    prompts, taxonomy = arena
    clusters = [t.name for t in taxonomy.topics]
    assert len(prompts) == 500 and len(clusters) == 250
    labels, predicted = planted(prompts, clusters)
    srv = serve({"models": {"planted": {"kind": "classifier", "labels": labels},
                            "keywords": {"kind": "classifier"}}})
    cfg = parse_config({"classifiers": {
        name: {"base_url": srv.base_url, "model": name, "max_concurrency": 32}
        for name in ("planted", "keywords")}})
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    store_pool(engine, "arena-hard", prompts, source=str(QUESTIONS))
    report = annotate_pool(engine, "arena-hard", cfg.classifier("planted"),
                           load_classifier_template(), taxonomy, human_topic="cluster")
    assert report.requested == 500 and report.failed == 0
    a = report.agreement["topic"]
    assert report.agreement_tags["topic"] == "cluster"

    ids = [p.id for p in prompts if predicted[p.id] is not None]
    truth = {p.id: p.tags["cluster"] for p in prompts}
    pred = [predicted[i] for i in ids]
    gold = [truth[i] for i in ids]
    assert report.unparsable == 500 - len(ids) and a.n == len(ids) and a.n_excluded == 500 - a.n
    po = sum(p == g for p, g in zip(pred, gold, strict=True)) / len(ids)
    pe = sum(pred.count(c) * gold.count(c) for c in clusters) / len(ids) ** 2
    assert a.accuracy == pytest.approx(po) and a.kappa == pytest.approx((po - pe) / (1 - pe))
    assert 0.8 < po < 0.9 and a.kappa > 0.8  # 80 of every 95 parsable answers are right
    per = {s.label: s for s in a.per_label}
    assert set(per) >= set(clusters)
    for c in clusters:
        tp = sum(p == g == c for p, g in zip(pred, gold, strict=True))
        assert per[c].support == gold.count(c) and per[c].predicted == pred.count(c)
        if gold.count(c):
            assert per[c].recall == pytest.approx(tp / gold.count(c))
        if pred.count(c):
            assert per[c].precision == pytest.approx(tp / pred.count(c))

    weak = annotate_pool(engine, "arena-hard", cfg.classifier("keywords"),
                         load_classifier_template(), taxonomy, human_topic="cluster",
                         version=report.source_version)
    k = weak.agreement["topic"]
    assert weak.unparsable == 0 and k.n == 500
    assert k.accuracy > 0.15 and k.kappa > 0.15  # chance is 1 in 250
