"""``evalkit rm-eval`` on the real HH-RLHF test pairs (``../shared/data/hh-rlhf``) with a
scripted reward model of known accuracy: each chosen answer outscores its rejected one with
probability 0.7, decided by a hash, so the accuracy on every subset is known exactly before
the run. The reported accuracy equals it and its exact binomial CI contains it. Also: the
LLMBar and prompt/chosen/rejected formats, and one-line errors for bad pair files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA, run_cli, write_config
from rm_helpers import rm_table, with_rewards

from evalkit.testing.rewards import RewardScript, response_hash

HH = SHARED_DATA / "hh-rlhf"
FILES = ("harmless-base-test.jsonl.gz", "helpful-base-test.jsonl.gz")
P = 0.7


def hh_rows() -> dict[str, list[dict[str, str]]]:
    missing = [f for f in FILES if not (HH / f).is_file()]
    if missing:
        pytest.skip(f"HH-RLHF test pairs not found in {HH} ({', '.join(missing)}); they come "
                    "from anthropics/hh-rlhf (see ../shared/data/README.md)")
    return {f: [json.loads(line) for line in gzip.open(HH / f, "rt", encoding="utf-8")]
            for f in FILES}


def last_answer(transcript: str) -> str:
    return transcript.rsplit("\n\nAssistant:", 1)[1]


@pytest.mark.slow
def test_rm_eval_on_hh_rlhf_reports_the_known_accuracy(tmp_path: Path, serve) -> None:
    rows = hh_rows()
    chosen = sorted({response_hash(last_answer(r["chosen"])) for rs in rows.values()
                     for r in rs})
    spec = {"rule": "chosen", "chosen": chosen, "accuracy": P, "seed": 11}
    srv = serve(with_rewards({"models": {}}, {"hh-rm": spec}, tei="hh-rm"))
    script = RewardScript(name="hh-rm", **spec)
    known = {}
    for f, rs in rows.items():  # straight from the raw transcripts, not through evalkit
        right = sum(script.reward(r["chosen"]) > script.reward(r["rejected"]) for r in rs)
        known[f.removesuffix(".jsonl.gz")] = (right, len(rs))
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    with open(tmp_path / "evalkit.toml", "a") as fh:
        fh.write("\n" + rm_table("hh", backend="tei", base_url=srv.base_url, batch_size=32,
                                 max_concurrency=8))
    args = ["rm-eval", "hh", *(a for f in FILES for a in ("--pairs", str(HH / f))), "--json"]
    out = json.loads(run_cli(args, tmp_path, timeout=300).stdout)
    assert out["n_pairs"] == sum(n for _, n in known.values()) == 4666
    for subset, (right, n) in known.items():
        block = out["subsets"][subset]
        assert (block["correct"], block["n"], block["failed"]) == (right, n, 0)
        assert block["accuracy"] == pytest.approx(right / n)
        lo, hi = block["ci"]
        assert lo <= right / n <= hi and lo <= P <= hi  # the realised and the nominal rate
        assert hi - lo < 0.06
    total = sum(r for r, _ in known.values())
    assert out["overall"]["correct"] == total and out["overall"]["n"] == 4666
    assert out["overall"]["ci"][0] <= P <= out["overall"]["ci"][1]
    scored = out["requests"]["scored"]  # distinct (prompt, answer) texts: a few repeat
    assert 9000 < scored <= 9332 and out["requests"]["requests"] <= scored / 32 * 1.1 + 5
    assert out["most_wrong"] and all(w["margin"] < 0 for w in out["most_wrong"])
    # a rerun is served from the store
    again = json.loads(run_cli(args, tmp_path, timeout=300).stdout)
    assert again["requests"]["requests"] == 0 and again["requests"].get("scored", 0) == 0
    assert again["overall"] == out["overall"]
    listed = json.loads(run_cli(["rm-eval", "hh", "--pairs", str(HH / FILES[0]), "--limit",
                                 "50", "--json"], tmp_path).stdout)
    assert listed["n_pairs"] == 50 and listed["requests"].get("scored", 0) == 0


def test_llmbar_and_plain_pair_formats(tmp_path: Path, serve) -> None:
    good = ["a careful, correct answer", "the right one", "yes, exactly so"]
    bad = ["a wrong answer", "nonsense", "no"]
    spec = {"rule": "chosen", "chosen": [response_hash(g) for g in good], "accuracy": 1.0}
    srv = serve(with_rewards({"models": {}}, {"m": spec}))
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    with open(tmp_path / "evalkit.toml", "a") as fh:
        fh.write("\n" + rm_table("m", backend="vllm", base_url=srv.base_url, model="m"))
    llmbar = [{"input": f"question {i}", "output_1": (g if i % 2 else b),
               "output_2": (b if i % 2 else g), "label": 1 if i % 2 else 2}
              for i, (g, b) in enumerate(zip(good, bad, strict=True))]
    (tmp_path / "Natural.json").write_text(json.dumps(llmbar))
    plain = [{"prompt": f"q{i}", "chosen": g, "rejected": b, "subset": "plain-sub"}
             for i, (g, b) in enumerate(zip(good, bad, strict=True))]
    (tmp_path / "plain.jsonl").write_text("\n".join(json.dumps(r) for r in plain))
    out = json.loads(run_cli(["rm-eval", "m", "--pairs", "Natural.json", "--pairs",
                              "plain.jsonl", "--json"], tmp_path).stdout)
    assert out["subsets"]["Natural"]["accuracy"] == 1.0
    assert out["subsets"]["plain-sub"]["accuracy"] == 1.0 and out["overall"]["n"] == 6
    human = run_cli(["rm-eval", "m", "--pairs", "Natural.json"], tmp_path).stdout
    assert "Natural" in human and "1.000" in human


@pytest.mark.parametrize("content, message", [
    ('{"chosen": "\\n\\nHuman: hi", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: yo"}\n',
     "pairs.jsonl:1: field 'chosen': not an HH-RLHF transcript: does not end with"),
    ('{"input": "q", "output_1": "a", "output_2": "b", "label": 3}\n',
     "pairs.jsonl:1: field 'label': expected 1 or 2, got 3"),
    ('{"prompt": "q", "chosen": "a"}\n', "pairs.jsonl:1: field 'rejected': missing field"),
    ('{"chosen": 1, "rejected": "x"}\n', "pairs.jsonl:1: field 'chosen': expected a string"),
    ("not json\n", "pairs.jsonl:1: bad JSON"),
])
def test_bad_pair_files_give_one_line(tmp_path: Path, content: str, message: str) -> None:
    from evalkit.errors import InputError
    from evalkit.reward.pairs import read_pairs

    (tmp_path / "pairs.jsonl").write_text(content)
    with pytest.raises(InputError) as err:
        read_pairs([tmp_path / "pairs.jsonl"])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_bad_pair_file_stops_the_command_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "evalkit.toml").write_text(
        '[store]\nurl = "sqlite:///rm.db"\n\n'
        + rm_table("m", backend="vllm", base_url="http://127.0.0.1:9", model="m"))
    (tmp_path / "pairs.jsonl").write_text('{"prompt": "q", "chosen": "a"}\n')
    proc = run_cli(["rm-eval", "m", "--pairs", "pairs.jsonl"], tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == ["evalkit: error: pairs.jsonl:1: field 'rejected': missing field"]
