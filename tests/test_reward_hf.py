"""The ``hf`` reward-model backend on tiny sequence-classification models built in the test
(random weights, a tokenizer trained on the spot, saved to a temp folder; nothing is
downloaded): a chat reward model read through its chat template (one BOS), a question/answer
model read as text pairs with a multi-logit head, truncation that keeps the response — each
score equal to a direct forward pass of the same model."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

try:
    import torch
    import transformers  # noqa: F401
except ImportError:  # .ci/run installs the extra and sets EVALKIT_REQUIRE_HF=1: fail there
    reason = "torch/transformers missing: the hf extra is not installed (pip install -e " \
        "'.[test,hf]')"
    if os.environ.get("EVALKIT_REQUIRE_HF") == "1":
        raise
    pytest.skip(reason, allow_module_level=True)

from rm_helpers import build_bert_rm, build_llama_rm, rm_table  # noqa: E402

from evalkit.backends.reward_base import RewardInput, make_reward_backend  # noqa: E402
from evalkit.errors import ConfigError  # noqa: E402
from evalkit.reward.spec import parse_reward_model  # noqa: E402

INPUTS = [
    RewardInput(({"role": "user", "content": "hello world how are you today"},),
                "the answer is four"),
    RewardInput(({"role": "user", "content": "explain it step by step"},),
                "two plus two is four because the result is four"),
    RewardInput(({"role": "system", "content": "check the result"},
                 {"role": "user", "content": "question about math"},
                 {"role": "assistant", "content": "the answer"},
                 {"role": "user", "content": "explain it"}), "step by step"),
    RewardInput(({"role": "user", "content": "tell me about topic law"},), "thanks"),
    RewardInput(({"role": "user", "content": "coding question please"},),
                "check the result and explain it step by step please"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-rms")
    return {"llama": build_llama_rm(root / "llama"), "bert": build_bert_rm(root / "bert")}


def scores(raw: dict) -> list[float | None]:
    backend = make_reward_backend(parse_reward_model("tiny", raw))

    async def go() -> list:
        try:
            return await backend.score(INPUTS)
        finally:
            await backend.aclose()

    done = asyncio.run(go())
    assert all(d.error is None for d in done), done
    return [d.score for d in done]


def test_chat_template_path_equals_a_direct_forward_pass(models: dict[str, Path]) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    got = scores({"backend": "hf", "path": str(models["llama"]), "batch_size": 4})
    tok = AutoTokenizer.from_pretrained(models["llama"])
    model = AutoModelForSequenceClassification.from_pretrained(models["llama"]).eval()
    for item, score in zip(INPUTS, got, strict=True):
        text = tok.apply_chat_template(item.conversation(), tokenize=False)
        assert text.startswith("<s><|user|>") or text.startswith("<s><|system|>")
        enc = tok(text, add_special_tokens=False, return_tensors="pt")
        assert int((enc["input_ids"][0] == tok.bos_token_id).sum()) == 1  # no double BOS
        with torch.no_grad():
            want = float(model(**enc).logits[0, 0])
        assert score == pytest.approx(want, abs=1e-5)
    assert len(set(got)) == len(got)  # real, different rewards


def test_the_batch_has_one_bos_per_row_and_truncation_keeps_the_response(
        models: dict[str, Path]) -> None:
    backend = make_reward_backend(parse_reward_model(
        "tiny", {"backend": "hf", "path": str(models["llama"]), "max_length": 8}))
    tok_full = make_reward_backend(parse_reward_model(
        "full", {"backend": "hf", "path": str(models["llama"])}))
    full = tok_full.encode(INPUTS)
    assert all(int((row == tok_full.tokenizer.bos_token_id).sum()) == 1
               for row in full["input_ids"])
    cut = backend.encode(INPUTS)["input_ids"]
    for item, row in zip(INPUTS, cut, strict=True):
        tail = backend.tokenizer(f"{item.response}\n", add_special_tokens=False)["input_ids"]
        kept = [int(t) for t in row if int(t) != backend.tokenizer.pad_token_id]
        assert len(kept) <= 8
        assert kept[-min(len(tail), 8):] == tail[-min(len(tail), 8):]  # the response's end


def test_pair_path_with_a_multi_logit_head(models: dict[str, Path]) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    raw = {"backend": "hf", "path": str(models["bert"]), "input": "pair", "label_index": 2,
           "batch_size": 2}
    got = scores(raw)
    tok = AutoTokenizer.from_pretrained(models["bert"])
    model = AutoModelForSequenceClassification.from_pretrained(models["bert"]).eval()
    for item, score in zip(INPUTS, got, strict=True):
        enc = tok(item.question(), item.response, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).logits[0]
        assert score == pytest.approx(float(logits[2]), abs=1e-5)  # raw logit, no softmax
    assert INPUTS[2].question().startswith("check the result\n\nHuman: question about math")
    with pytest.raises(ConfigError, match="3 outputs; set label_index"):
        scores({k: v for k, v in raw.items() if k != "label_index"})


def test_pair_truncation_cuts_the_question_first(models: dict[str, Path]) -> None:
    backend = make_reward_backend(parse_reward_model(
        "tiny", {"backend": "hf", "path": str(models["bert"]), "input": "pair",
                 "label_index": 0, "max_length": 15}))
    ids = [int(t) for t in backend.encode([INPUTS[1]])["input_ids"][0]]
    tok = backend.tokenizer
    question = tok(INPUTS[1].question(), add_special_tokens=False)["input_ids"]
    answer = tok(INPUTS[1].response, add_special_tokens=False)["input_ids"]
    assert len(question) + len(answer) + 3 > 15  # it had to be cut
    # [CLS] the question's last 2 tokens [SEP] the whole answer [SEP]
    assert ids == [tok.cls_token_id, *question[-2:], tok.sep_token_id, *answer,
                   tok.sep_token_id]


@pytest.mark.slow
def test_rm_eval_and_score_cache_through_the_cli(models: dict[str, Path], tmp_path: Path
                                                 ) -> None:
    """The hf backend end to end: rm-eval stores scores; a rerun computes nothing."""
    (tmp_path / "evalkit.toml").write_text(
        '[store]\nurl = "sqlite:///rm.db"\n\n'
        + rm_table("tiny", backend="hf", path=str(models["llama"]), batch_size=3))
    pairs = [{"input": i.messages[-1]["content"], "output_1": i.response,
              "output_2": INPUTS[(n + 1) % len(INPUTS)].response, "label": 1 + n % 2}
             for n, i in enumerate(INPUTS)]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(p) for p in pairs) + "\n")
    first = json.loads(run_cli(["rm-eval", "tiny", "--pairs", "pairs.jsonl", "--json"],
                               tmp_path).stdout)
    assert first["overall"]["n"] == 5 and first["requests"]["scored"] == 10
    again = json.loads(run_cli(["rm-eval", "tiny", "--pairs", "pairs.jsonl", "--json"],
                               tmp_path).stdout)
    assert again["requests"].get("scored", 0) == 0 and again["requests"]["requests"] == 0
    assert again["overall"] == first["overall"]
