"""``evalkit pool annotate`` through the scripted server with a classifier whose labels are
known: the labels land as llm.* tags beside the untouched human tags, with provenance;
unparsable answers are stored and reported, never guessed; a rerun sends zero requests; a
new taxonomy asks again; failed requests write no version; the agreement report matches an
independent computation."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import CATEGORIES, cli_json, run_cli, write_config, write_pool

from evalkit.catalog import import_pool
from evalkit.config import load_config
from evalkit.curation.annotate import annotate_pool
from evalkit.curation.classifier import (
    load_classifier_template,
    parse_labels,
    render_conversation,
)
from evalkit.curation.taxonomy import Taxonomy, Topic, load_taxonomy
from evalkit.errors import ConfigError
from evalkit.pools import read_pool
from evalkit.store import make_engine

N = 40
WRONG = {"math": "reasoning", "coding": "science", "law": "politics", "safety": "other"}
UNPARSABLE = {
    3: "I would call this one math, more or less.",
    7: json.dumps({"topic": "astrology", "difficulty": "easy", "quality": "ok",
                   "reason": "", "language": "en"}),
    11: '{"topic": "law", "difficulty": "easy", "quality": "ok", "reason": "fine"}',
    15: json.dumps({"topic": "law", "difficulty": "easy", "quality": "ok", "reason": "",
                    "language": "English"}),
}
REASONS = ("no JSON object", "topic 'astrology' is not in taxonomy", "lacks 'language'",
           "language 'English' is not an ISO 639 code")


def known_labels(pool: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The scripted classifier's answers by rendered prompt, and the expected labels by id:
    topic right for most prompts, wrong for every fifth, four unparsable answers."""
    labels: dict[str, Any] = {}
    expected: dict[str, dict[str, str]] = {}
    for i, p in enumerate(read_pool(pool)):
        key = render_conversation(p.messages)
        if i in UNPARSABLE:
            labels[key] = UNPARSABLE[i]
            continue
        cat = p.tags["category"]
        lab = {"topic": WRONG[cat] if i % 5 == 4 else cat,
               "difficulty": ("easy", "medium", "hard")[i % 3],
               "quality": "flawed" if i in (8, 9) else "ok",
               "reason": f"reason for {p.id}", "language": "en" if i % 7 else "de"}
        labels[key] = {**lab, "topic": lab["topic"].upper() if i == 2 else lab["topic"]}
        expected[p.id] = lab
    return labels, expected


@pytest.fixture
def workspace(tmp_path: Path, serve) -> dict[str, Any]:
    pool = write_pool(tmp_path / "pool.jsonl", N)
    labels, expected = known_labels(pool)
    srv = serve({"models": {"clf": {"kind": "classifier", "labels": labels, "rule": "none"},
                            "dead": {"kind": "classifier", "failures": {"dead": True}}}})
    cfg = write_config(tmp_path / "evalkit.toml", srv.base_url, checkpoints=())
    with cfg.open("a") as f:
        f.write(f'\n[classifiers.clf]\nbase_url = "{srv.base_url}"\nmodel = "clf"\n'
                f'max_concurrency = 8\n\n[classifiers.dead]\nbase_url = "{srv.base_url}"\n'
                'model = "dead"\nmax_retries = 0\n')
    import_pool(make_engine(f"sqlite:///{tmp_path / 'evalkit.db'}"), "small", pool)
    return {"root": tmp_path, "srv": srv, "expected": expected}


def annotate(root: Path, classifier: str = "clf", **kw: Any) -> Any:
    """``annotate_pool`` in this process, as the CLI calls it."""
    cfg = load_config(root / "evalkit.toml")
    return annotate_pool(make_engine(cfg.store_url), "small", cfg.classifier(classifier),
                         load_classifier_template(), kw.pop("taxonomy", load_taxonomy()), **kw)


def db_rows(root: Path, sql: str, *args: Any) -> list[tuple]:
    with sqlite3.connect(root / "evalkit.db") as db:
        return db.execute(sql, args).fetchall()


def test_known_labels_cached_unparsable_reported(workspace: dict[str, Any]) -> None:
    root, srv, expected = workspace["root"], workspace["srv"], workspace["expected"]
    out = cli_json(["pool", "annotate", "small", "--classifier", "clf"], root)
    assert out["requests"] == {"sent": N, "cached": 0}
    assert (out["labelled"], out["unparsable"], out["failed"]) == (N - 4, 4, 0)
    details = " | ".join(e["detail"] for e in out["unparsable_examples"])
    for reason in REASONS:
        assert reason in details
    assert "I would call this one math" in details  # the answer itself is shown
    assert out["classifier"]["template"] == "default"
    assert out["classifier"]["taxonomy"] == "default"

    assert out["pool"]["version"] != out["pool"]["source_version"] and out["pool"]["created"]
    rows = {r[0]: json.loads(r[1]) for r in db_rows(
        root, "SELECT pi.item_id, pi.tags_json FROM poolitem pi JOIN pool p ON "
              "p.id = pi.pool_id WHERE p.version = ?", out["pool"]["version"])}
    originals = {p.id: p.tags for p in read_pool(root / "pool.jsonl")}
    right = 0
    for pid, tags in rows.items():
        assert {k: v for k, v in tags.items() if not k.startswith("llm.")} == originals[pid]
        llm = {k[4:]: v for k, v in tags.items() if k.startswith("llm.")}
        if pid in expected:
            want = {k: v for k, v in expected[pid].items() if k != "reason"}
            right += llm == want
        else:
            assert llm == {}  # unparsable: no label, no guess
    assert right == len(expected) == N - 4  # every known label, exactly

    labels = db_rows(root, "SELECT status, error, raw_output, reason FROM promptlabel")
    assert Counter(r[0] for r in labels) == {"labelled": N - 4, "unparsable": 4}
    assert {r[2] for r in labels if r[0] == "unparsable"} == set(UNPARSABLE.values())
    assert all(r[1] is None and r[3].startswith("reason for") for r in labels
               if r[0] == "labelled")
    ((op, params),) = db_rows(root, "SELECT d.operation, d.params_json FROM poolderivation d "
                                    "JOIN pool p ON p.id = d.pool_id WHERE p.version = ?",
                              out["pool"]["version"])
    params = json.loads(params)
    assert op == "annotate" and params["name"] == "clf" and params["model"] == "clf"
    assert params["spec_hash"] == out["classifier"]["spec_hash"]
    assert params["template_hash"] and params["taxonomy_hash"] == load_taxonomy().hash
    assert db_rows(root, "SELECT name FROM classifierspec") == [("clf",)]
    assert {e["id"] for e in out["flawed_examples"]} == {"q008", "q009"}
    assert out["flawed_examples"][0]["detail"] == "reason for q008"

    before = srv.stats()["requests"]
    again = cli_json(["pool", "annotate", "small", "--classifier", "clf", "--version",
                      out["pool"]["source_version"]], root)
    assert srv.stats()["requests"] == before  # zero requests
    assert again["requests"] == {"sent": 0, "cached": N}
    assert again["pool"]["version"] == out["pool"]["version"]
    assert not again["pool"]["created"] and again["unparsable"] == 4
    # annotating the annotated version replaces the llm.* tags, keeps the human ones: same
    relabel = annotate(root)
    assert relabel.version == out["pool"]["version"] and not relabel.created
    assert srv.stats()["requests"] == before and relabel.requested == 0


def test_agreement_with_human_tags_matches_an_independent_count(
        workspace: dict[str, Any]) -> None:
    root, expected = workspace["root"], workspace["expected"]
    out = annotate(root).to_dict()
    truth = {p.id: p.tags["category"] for p in read_pool(root / "pool.jsonl")}
    ids = sorted(expected)
    pred = [expected[i]["topic"] for i in ids]
    gold = [truth[i] for i in ids]
    a = out["agreement"]["topic"]
    assert a["human_tag"] == "category" and a["n"] == N - 4 and a["n_excluded"] == 4
    po = sum(p == g for p, g in zip(pred, gold, strict=True)) / len(ids)
    labels = sorted(set(pred) | set(gold))
    pe = sum(pred.count(k) * gold.count(k) for k in labels) / len(ids) ** 2
    assert a["accuracy"] == pytest.approx(po) and po == pytest.approx(28 / 36)
    assert a["kappa"] == pytest.approx((po - pe) / (1 - pe))
    per = {s["label"]: s for s in a["per_label"]}
    for k in CATEGORIES:
        tp = sum(p == g == k for p, g in zip(pred, gold, strict=True))
        assert per[k]["recall"] == pytest.approx(tp / gold.count(k))
        assert per[k]["precision"] == pytest.approx(tp / pred.count(k))
        assert per[k]["support"] == gold.count(k)
    assert per["reasoning"]["precision"] == 0 and per["reasoning"]["recall"] is None
    # difficulty and language have human tags of the same name: compared too
    d = out["agreement"]["difficulty"]
    gold_d = {p.id: p.tags["difficulty"] for p in read_pool(root / "pool.jsonl")}
    assert d["accuracy"] == pytest.approx(
        sum(expected[i]["difficulty"] == gold_d[i] for i in ids) / len(ids))
    text = run_cli(["pool", "annotate", "small", "--classifier", "clf"], root).stdout
    assert "agreement of llm.topic with human tag 'category' (n=36" in text
    assert f"accuracy {po:.3f}" in text


def test_a_new_taxonomy_asks_again_and_failures_write_no_version(
        workspace: dict[str, Any]) -> None:
    root, srv = workspace["root"], workspace["srv"]
    first = annotate(root)
    base = load_taxonomy()
    bigger = Taxonomy(name="bigger", topics=(*base.topics, Topic("astrology", "stars")),
                      difficulties=base.difficulties)
    (root / "bigger.toml").write_text(bigger.to_toml())
    before = srv.stats()["requests"]
    out = annotate(root, taxonomy=load_taxonomy(root / "bigger.toml"),
                   version=first.source_version)
    assert srv.stats()["requests"] - before == N and out.requested == N
    assert out.unparsable == 3 and out.classifier["taxonomy"] == "bigger"
    assert out.counts["topic"].get("astrology") == 1  # now a topic of the taxonomy
    assert out.classifier["spec_hash"] != first.classifier["spec_hash"]

    versions = len(db_rows(root, "SELECT id FROM pool"))
    dead = run_cli(["pool", "annotate", "small", "--classifier", "dead"], root, check=False)
    assert dead.returncode == 3
    assert f"{N} requests failed" in dead.stdout and "no version written" in dead.stdout
    assert len(db_rows(root, "SELECT id FROM pool")) == versions


def test_bad_classifier_config_is_one_line(workspace: dict[str, Any]) -> None:
    root = workspace["root"]
    for call, message in (
            (lambda: annotate(root, "nope"), "no classifier named 'nope' (known: clf, dead)"),
            (lambda: load_taxonomy(root / "missing.toml"), "taxonomy file not found"),
            (lambda: load_taxonomy("mystery"), "unknown taxonomy 'mystery'"),
            (lambda: annotate(root, human_topic="cluster"), "has no tag 'cluster'")):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()
    proc = run_cli(["pool", "annotate", "small", "--classifier", "clf", "--taxonomy",
                    "missing.toml"], root, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "taxonomy file not found" in proc.stderr
    cfg = (root / "evalkit.toml").read_text()
    (root / "evalkit.toml").write_text(cfg + '\n[classifiers.typo]\nbase_url = '
                                             '"http://127.0.0.1:1/v1"\nmodel = "m"\n'
                                             'tempalte = "x"\n')
    proc = run_cli(["pool", "annotate", "small", "--classifier", "clf"], root, check=False)
    assert proc.returncode == 2 and "classifiers.typo: unknown key 'tempalte'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_parse_labels_reads_json_and_never_guesses() -> None:
    tax = load_taxonomy()
    ok = parse_labels('Thinking...\n```json\n{"topic": "Math", "difficulty": "HARD", '
                      '"quality": "Flawed", "reason": " missing\\n data ", "language": '
                      '"pt_BR"}\n```', tax)
    assert not isinstance(ok, str)
    assert (ok.topic, ok.difficulty, ok.quality, ok.reason, ok.language) == (
        "math", "hard", "flawed", "missing data", "pt-br")
    last = parse_labels('{"topic": "law", "difficulty": "easy", "quality": "ok", "language":'
                        ' "en"} then {"topic": "coding", "difficulty": "easy", "quality": '
                        '"ok", "language": "en"}', tax)
    assert not isinstance(last, str) and last.topic == "coding"  # the final answer counts
    for bad, why in (("", "no JSON object"), ('{"topic": 3}', "lacks 'difficulty'"),
                     ('{"topic": "math", "difficulty": "trivial", "quality": "ok", '
                      '"language": "en"}', "difficulty 'trivial'"),
                     ('{"topic": "math", "difficulty": "easy", "quality": "good", '
                      '"language": "en"}', "quality 'good'")):
        result = parse_labels(bad, tax)
        assert isinstance(result, str) and why in result
