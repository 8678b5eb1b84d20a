"""Tests for evalkit.config: evalkit.toml parsing, cache identities and one-line errors."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from evalkit.config import (
    DEFAULT_STORE_URL,
    CheckpointConfig,
    Config,
    Defaults,
    EndpointConfig,
    JudgeConfig,
    Sampling,
    load_config,
    parse_checkpoint,
    parse_config,
)
from evalkit.errors import ConfigError
from evalkit.hashing import content_hash

FULL = """\
[store]
url = "sqlite:///evalkit.db"          # any SQLAlchemy URL later (postgresql://...)

[checkpoints.sft-v3]
backend = "openai"                    # any OpenAI-compatible chat endpoint
base_url = "http://127.0.0.1:8000/v1"
model = "sft-v3"
api_key_env = "OPENAI_API_KEY"        # the variable's NAME; optional for local servers
max_concurrency = 64
timeout = 120
sampling = { temperature = 0.0, max_tokens = 1024, seed = 0 }

[checkpoints.rlhf-r2]
base_url = "http://127.0.0.1:8001/v1"
model = "rlhf-r2"
max_concurrency = 8
timeout = 30.5
max_retries = 2
system_prompt = "You are a helpful assistant."
samples = 3
sampling = { temperature = 0.7, top_p = 0.9, max_tokens = 512, seed = 10 }

[checkpoints.rlhf-r1]
backend = "replay"                    # responses made elsewhere
path = "outputs/rlhf-r1.jsonl"        # {"id": ..., "response": ...} per line

[judges.default]
backend = "openai"
base_url = "https://api.openai.com/v1"
model = "gpt-4o"
api_key_env = "OPENAI_API_KEY"
template = "pairwise"                 # a name in judges/ or a path to a template file
both_orders = true

[defaults]
judge = "default"
pool = "rlhf_prompts"

[gate]
baseline = "promoted"
margin = 0.02
"""

OPENAI = {"base_url": "http://127.0.0.1:8000/v1", "model": "sft-v3"}


def write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "evalkit.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path | None, text: str | None = None) -> str:
    """The message of the ConfigError that loading ``text`` (written to ``path``) raises."""
    if path is not None and text is not None:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    if path is not None:
        assert message.startswith(f"{path}: ")
    return message


# --------------------------------------------------------------------------- parsing


def test_full_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    path = write_config(project, FULL)
    monkeypatch.chdir(tmp_path)  # relative paths resolve next to the file, not the cwd
    cfg = load_config(path)

    assert isinstance(cfg, Config)
    assert cfg.path == str(path)
    assert cfg.store_url == f"sqlite:///{project.resolve() / 'evalkit.db'}"
    assert list(cfg.checkpoints) == ["sft-v3", "rlhf-r2", "rlhf-r1"]
    assert cfg.defaults == Defaults(judge="default", pool="rlhf_prompts")

    assert cfg.checkpoint("sft-v3") == CheckpointConfig(
        name="sft-v3", backend="openai",
        endpoint=EndpointConfig(base_url="http://127.0.0.1:8000/v1", model="sft-v3",
                                api_key_env="OPENAI_API_KEY", max_concurrency=64,
                                timeout=120.0, max_retries=6),
        sampling=Sampling(temperature=0.0, top_p=None, max_tokens=1024, seed=0),
        system_prompt=None, samples=1, path=None)
    assert isinstance(cfg.checkpoint("sft-v3").endpoint.timeout, float)

    r2 = cfg.checkpoint("rlhf-r2")
    assert r2.endpoint == EndpointConfig(base_url="http://127.0.0.1:8001/v1", model="rlhf-r2",
                                         api_key_env=None, max_concurrency=8, timeout=30.5,
                                         max_retries=2)
    assert r2.sampling == Sampling(temperature=0.7, top_p=0.9, max_tokens=512, seed=10)
    assert r2.system_prompt == "You are a helpful assistant."
    assert r2.samples == 3

    assert cfg.checkpoint("rlhf-r1") == CheckpointConfig(
        name="rlhf-r1", backend="replay",
        path=str(project.resolve() / "outputs" / "rlhf-r1.jsonl"))

    judge = cfg.judge(None)
    assert judge is cfg.judge("default")
    assert judge == JudgeConfig(
        name="default", backend="openai",
        endpoint=EndpointConfig(base_url="https://api.openai.com/v1", model="gpt-4o",
                                api_key_env="OPENAI_API_KEY"),
        sampling=Sampling(max_tokens=2048), template="pairwise", both_orders=True,
        reask_invalid=True)


def test_request_params() -> None:
    sampling = Sampling(temperature=0.7, top_p=0.9, max_tokens=512, seed=10)
    assert sampling.request_params() == {"temperature": 0.7, "max_tokens": 512, "top_p": 0.9,
                                         "seed": 10}
    assert sampling.request_params(sample=2) == {"temperature": 0.7, "max_tokens": 512,
                                                 "top_p": 0.9, "seed": 12}
    # no seed configured: none sent, whatever the sample
    assert Sampling().request_params(sample=3) == {"temperature": 0.0, "max_tokens": 1024}


def test_store_url_forms(tmp_path: Path) -> None:
    sub = tmp_path / "a" / "b"
    rel = write_config(sub, '[store]\nurl = "sqlite:///data/runs.db"\n')
    assert load_config(rel).store_url == f"sqlite:///{sub.resolve() / 'data' / 'runs.db'}"
    for url in ("sqlite:////var/tmp/abs.db", "sqlite:///:memory:",
                "postgresql://user@db.example/evalkit"):
        path = write_config(tmp_path / "other", f'[store]\nurl = "{url}"\n')
        assert load_config(path).store_url == url
    # no file name given: relative URLs are left alone
    assert parse_config({}).store_url == DEFAULT_STORE_URL


def test_load_config_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config()
    write_config(tmp_path, '[checkpoints.x]\nbase_url = "http://h/v1"\nmodel = "x"\n')
    cfg = load_config()
    assert cfg.path == "evalkit.toml"
    assert cfg.checkpoint("x").endpoint.model == "x"


# --------------------------------------------------------------------------- identities


def test_spec_hash_tracks_what_changes_answers() -> None:
    base = parse_checkpoint("ckpt", {**OPENAI, "system_prompt": "Be brief.",
                                     "sampling": {"temperature": 0.0, "seed": 0}})
    same_answers = [
        {"base_url": "http://10.0.0.2:9000/v1"},
        {"max_concurrency": 3},
        {"timeout": 5},
        {"api_key_env": "SOME_KEY"},
        {"max_retries": 0},
    ]
    for change in same_answers:
        other = parse_checkpoint("ckpt", {**OPENAI, "system_prompt": "Be brief.",
                                          "sampling": {"temperature": 0.0, "seed": 0},
                                          **change})
        assert other != base
        assert other.spec_hash == base.spec_hash, change

    different_answers = [
        {"model": "sft-v4"},
        {"system_prompt": "Be thorough."},
        {"sampling": {"temperature": 0.5, "seed": 0}},
        {"sampling": {"temperature": 0.0, "seed": 1}},
        {"sampling": {"temperature": 0.0, "seed": 0, "max_tokens": 10}},
    ]
    hashes = {base.spec_hash}
    for change in different_answers:
        other = parse_checkpoint("ckpt", {**OPENAI, "system_prompt": "Be brief.",
                                          "sampling": {"temperature": 0.0, "seed": 0},
                                          **change})
        assert other.spec_hash not in hashes, change
        hashes.add(other.spec_hash)
    assert dataclasses.replace(base, system_prompt=None).spec_hash not in hashes
    assert len(base.spec_hash) == 16


def test_judge_identity_tracks_template_hash() -> None:
    judge = JudgeConfig(name="j", endpoint=EndpointConfig(base_url="http://h/v1", model="m"))
    one, two = content_hash("template one"), content_hash("template two")
    assert judge.identity(one)["template"] == one
    assert content_hash(judge.identity(one)) != content_hash(judge.identity(two))
    assert content_hash(judge.identity(one)) == content_hash(
        dataclasses.replace(judge, endpoint=EndpointConfig(base_url="http://other/v1",
                                                           model="m", timeout=3.0)
                            ).identity(one))
    assert content_hash(judge.identity(one)) != content_hash(
        dataclasses.replace(judge, reask_invalid=False).identity(one))


# --------------------------------------------------------------------------- errors


def test_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "evalkit.toml"
    msg = config_error(path, f"[checkpoints.sft-v3]\nbase_url = \"{OPENAI['base_url']}\"\n"
                             'model = "m"\nmax_concurency = 4\n')
    assert "checkpoints.sft-v3" in msg and "unknown key 'max_concurency'" in msg
    msg = config_error(path, '[checkpoints.a]\nbase_url = "http://h/v1"\nmodel = "m"\n'
                             "sampling = { temprature = 0.5 }\n")
    assert "checkpoints.a.sampling" in msg and "'temprature'" in msg
    msg = config_error(path, '[stores]\nurl = "sqlite:///x.db"\n')
    assert "unknown key 'stores'" in msg


def test_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "evalkit.toml"
    msg = config_error(path, '[checkpoints.sft-v3]\nbase_url = "http://h/v1"\nmodel = "m"\n'
                             'max_concurrency = "64"\n')
    assert "checkpoints.sft-v3.max_concurrency: expected int, got str" in msg
    msg = config_error(path, '[checkpoints.a]\nbase_url = "http://h/v1"\nmodel = "m"\n'
                             "sampling = { seed = true }\n")
    assert "checkpoints.a.sampling.seed: expected int, got bool" in msg
    msg = config_error(path, '[judges.j]\nbase_url = "http://h/v1"\nmodel = "m"\n'
                             'both_orders = "yes"\n')
    assert "judges.j.both_orders: expected bool, got str" in msg
    msg = config_error(path, "[store]\nurl = 5\n")
    assert "store.url: expected str, got int" in msg
    msg = config_error(path, "checkpoints = 5\n")
    assert "checkpoints: expected a table" in msg
    msg = config_error(path, 'defaults = "x"\n')
    assert "defaults: expected a table" in msg
    msg = config_error(path, "[defaults]\njudge = 1\n")
    assert "defaults.judge: expected str, got int" in msg


@pytest.mark.parametrize(("table", "fragment"), [
    ('backend = "vllm"\nbase_url = "http://h/v1"\nmodel = "m"',
     "checkpoints.bad.backend: unknown backend 'vllm'"),
    ('backend = "replay"', "checkpoints.bad: 'path' (the replay file) is required"),
    ('backend = "replay"\npath = 3', "checkpoints.bad: 'path' (the replay file) is required"),
    ('backend = "openai"\nmodel = "m"', "checkpoints.bad: 'base_url' is required"),
    ('base_url = "http://h/v1"', "checkpoints.bad: 'model' is required"),
    ('base_url = "http://h/v1"\nmodel = "m"\nmax_concurrency = 0',
     "checkpoints.bad.max_concurrency: must be at least 1"),
    ('base_url = "http://h/v1"\nmodel = "m"\ntimeout = 0', "checkpoints.bad.timeout: must be"),
    ('base_url = "http://h/v1"\nmodel = "m"\nmax_retries = -1',
     "checkpoints.bad.max_retries: must be at least 0"),
])
def test_bad_checkpoint(tmp_path: Path, table: str, fragment: str) -> None:
    path = tmp_path / "evalkit.toml"
    msg = config_error(path, f"[checkpoints.bad]\n{table}\n")
    assert fragment in msg


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "evalkit.toml"
    msg = config_error(path, '[checkpoints.a]\nbase_url = "http://h/v1"\nmodel = \n')
    assert "line 3" in msg


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "evalkit.toml"
    path.write_bytes(b'[store]\nurl = "sqlite:///caf\xe9.db"\n')
    assert "not valid UTF-8" in config_error(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "evalkit.toml"
    assert config_error(path) == f"{path}: config file not found"


def test_unknown_names(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL)
    cfg = load_config(path)
    with pytest.raises(ConfigError) as info:
        cfg.checkpoint("sft-v4")
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "'sft-v4'" in msg
    assert "rlhf-r1, rlhf-r2, sft-v3" in msg
    with pytest.raises(ConfigError, match="no judge named 'strict'"):
        cfg.judge("strict")

    bare = load_config(write_config(tmp_path / "bare", "[store]\n"))
    with pytest.raises(ConfigError) as info:
        bare.judge(None)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{tmp_path / 'bare' / 'evalkit.toml'}: no judge given")
    assert "[defaults] judge" in msg

    two = parse_config({"judges": {"a": OPENAI, "b": OPENAI}}, "two.toml")
    with pytest.raises(ConfigError, match="^two.toml: no judge given"):
        two.judge(None)
    one = parse_config({"judges": {"only": OPENAI}})
    assert one.judge(None).name == "only"


def test_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    var = "EVALKIT_TEST_KEY_7f3a9c"
    ckpt = parse_checkpoint("c", {**OPENAI, "api_key_env": var})
    monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError) as info:
        ckpt.endpoint.api_key()
    assert var in str(info.value) and "not set" in str(info.value)
    assert "\n" not in str(info.value)
    monkeypatch.setenv(var, "sk-test")
    assert ckpt.endpoint.api_key() == "sk-test"
    assert parse_checkpoint("c", OPENAI).endpoint.api_key() is None
    # the key's value is never part of the configuration or its identity
    assert "sk-test" not in repr(ckpt) and "sk-test" not in repr(ckpt.identity())
