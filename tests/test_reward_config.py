"""``[reward_models.NAME]``: what is accepted, what is a one-line error, what the identity (the
score cache key) holds and leaves out, and the one line a missing ``hf`` extra gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config import load_config, parse_config
from evalkit.errors import ConfigError
from evalkit.reward.spec import parse_reward_model

URL = "http://127.0.0.1:8000"


def rm(**raw: object) -> object:
    return parse_reward_model("r", raw)


@pytest.mark.parametrize("raw, message", [
    ({}, "backend: missing (hf, vllm or tei)"),
    ({"backend": "onnx"}, "'onnx' is unknown"),
    ({"backend": "hf"}, "'path' (the model folder or hub name) is required"),
    ({"backend": "vllm", "base_url": URL}, "'model' (the served model name) is required"),
    ({"backend": "vllm", "model": "m"}, "'base_url' (the server"),
    ({"backend": "tei", "base_url": URL, "label_index": 1},
     "tei answers labels, not positions: set label = NAME"),
    ({"backend": "vllm", "base_url": URL, "model": "m", "input": "pair"},
     "backend 'vllm' scores one text per input"),
    ({"backend": "vllm", "base_url": URL, "model": "m", "chat_format": "template"},
     "needs tokenizer = PATH"),
    ({"backend": "vllm", "base_url": URL, "model": "m", "token_level": True},
     "per-token rewards come from api = 'pooling'"),
    ({"backend": "hf", "path": "x", "tie_margin": 0.1, "temperature": 1.0},
     "exclude each other"),
    ({"backend": "hf", "path": "x", "temperature": 0}, "temperature: must be positive"),
    ({"backend": "hf", "path": "x", "batch_size": 0}, "batch_size: must be at least 1"),
    ({"backend": "hf", "path": "x", "label_index": "2"}, "label_index: expected int"),
    ({"backend": "hf", "path": "x", "dtype": "int8"}, "dtype: 'int8' is not one of"),
    ({"backend": "vllm", "base_url": "ftp://x", "model": "m"}, "must start with http"),
])
def test_bad_reward_model_tables_are_one_line_errors(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        rm(**raw)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("reward_models.r")


def test_identity_holds_what_changes_a_score_and_nothing_else() -> None:
    a = rm(backend="vllm", base_url=URL + "/v1", model="m")
    b = rm(backend="vllm", base_url=["http://10.0.0.1:8000", "http://10.0.0.2:8000"],
           model="m", max_concurrency=8, timeout=5, batch_size=64, tie_margin=0.5)
    assert a.spec_hash == b.spec_hash  # where, how fast, how judged: not the score's identity
    assert a.urls == ("http://127.0.0.1:8000",)  # vLLM's pooling routes are at the root
    assert a.chat_format == "hh"  # a server without a tokenizer: HH transcripts
    for other in (rm(backend="vllm", base_url=URL, model="m2"),
                  rm(backend="vllm", base_url=URL, model="m", max_length=512),
                  rm(backend="vllm", base_url=URL, model="m", label_index=1),
                  rm(backend="vllm", base_url=URL, model="m", api="pooling"),
                  rm(backend="tei", base_url=URL, model="m")):
        assert other.spec_hash != a.spec_hash


def test_config_file_tables_and_relative_model_folders(tmp_path: Path) -> None:
    (tmp_path / "models" / "rm").mkdir(parents=True)
    (tmp_path / "evalkit.toml").write_text(
        '[reward_models.local]\nbackend = "hf"\npath = "models/rm"\nlabel_index = 0\n'
        f'[reward_models.served]\nbackend = "tei"\nbase_url = "{URL}"\nlabel = "good"\n')
    cfg = load_config(tmp_path / "evalkit.toml")
    assert cfg.reward_model("local").path == str(tmp_path / "models" / "rm")
    assert cfg.reward_model("served").label == "good"
    with pytest.raises(ConfigError, match="no reward model named 'x' .known: local, served"):
        cfg.reward_model("x")
    with pytest.raises(ConfigError, match="reward_models.bad: expected a table"):
        parse_config({"reward_models": {"bad": 3}})


def test_a_missing_hf_extra_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from evalkit.backends.reward_base import make_reward_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ConfigError) as err:
        make_reward_backend(rm(backend="hf", path="x"))
    assert str(err.value) == ("reward model 'r' (backend hf) needs torch: pip install "
                              "'evalkit[hf]'")
