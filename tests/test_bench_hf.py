"""A local Hugging Face checkpoint (``backend = "hf"``) through lm-eval's ``hf`` model: a tiny
GPT-2 with random weights and a BPE tokenizer trained on the spot (nothing is downloaded), on
a log-likelihood and a generation task of the offline suite; a rerun loads no model and asks
nothing. Needs the ``hf`` extra (torch, transformers, accelerate)."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest

MISSING = [m for m in ("torch", "transformers", "accelerate", "tokenizers")
           if find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the hf extra is not installed "
                                f"(missing {', '.join(MISSING)}; pip install 'evalkit[hf]')")


def tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    data = Path(__file__).resolve().parents[1] / "suites" / "offline" / "data"
    corpus = [json.loads(line)["question"] for name in ("arith_test", "facts_test")
              for line in (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", unk_token="<unk>",
                                   pad_token="<|endoftext|>")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(fast), n_positions=512, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def test_local_hf_model_runs_loglikelihood_and_generation(tmp_path: Path) -> None:
    from evalkit.bench.runner import RunOptions, run_suite
    from evalkit.bench.suites import load_suite
    from evalkit.config import parse_config
    from evalkit.store import bench_queries, make_engine

    model = tiny_model(tmp_path / "tiny")
    cfg = parse_config({"checkpoints": {"tiny": {"backend": "hf", "path": "tiny"}}},
                       str(tmp_path / "evalkit.toml"))
    assert cfg.checkpoints["tiny"].path == str(model)  # resolved next to the config
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    suite = load_suite("offline")
    options = RunOptions(limit=6, tasks=("ek_arith", "ek_facts"))
    first = run_suite(cfg, "tiny", suite, options, engine=engine)
    assert first.requests == {"cached": 0, "sent": 6 + 6 * 4}
    by_task = {r.task: r for r in first.results}
    assert set(by_task) == {"ek_arith", "ek_facts"} and not first.skipped
    assert all(r.mode == "hf" and r.n == 6 and 0 <= r.value <= 1 for r in first.results)
    samples = bench_queries.run_samples(engine, by_task["ek_facts"].run_id)
    assert len(samples) == 6 and all(s.response for s in samples)
    again = run_suite(cfg, "tiny", suite, options, engine=engine)
    assert all(r.reused for r in again.results) and again.requests == {"cached": 0, "sent": 0}
    rescored = run_suite(cfg, "tiny", suite, RunOptions(limit=6, tasks=options.tasks,
                                                         rescore=True), engine=engine)
    assert rescored.requests == {"cached": 30, "sent": 0}  # from the store: no model loaded
    assert [r.value for r in rescored.results] == [r.value for r in first.results]
