"""``evalkit demo``: the whole pipeline, for real, against simulated models on 127.0.0.1.

Two scripted checkpoints and a scripted judge with a known preference rate are served by
``evalkit.testing.ScriptedServer``; the comparison runs through the same code as with real
endpoints, into a real SQLite file. The true win rate is known, so the printed interval can be
checked against it.
"""

from __future__ import annotations

from typing import Any

from .config import CheckpointConfig, Config, Defaults, EndpointConfig, JudgeConfig, Sampling

BASELINE, CANDIDATE, JUDGE_MODEL = "sft-v3", "rlhf-r1", "judge-sim"


def scenario(latency: float = 0.02) -> dict[str, Any]:
    """The demo's scripted world: the candidate is preferred a known fraction of the time, and
    its endpoint fails now and then (HTTP 503) to show the retries at work."""
    return {"latency": latency, "models": {
        BASELINE: {"kind": "chat", "words": 50},
        CANDIDATE: {"kind": "chat", "words": 70,
                    "failures": {"rate": 0.03, "status": 503, "retry_after": 0.01}},
        JUDGE_MODEL: {"kind": "judge", "strengths": {BASELINE: 0.0, CANDIDATE: 0.5},
                      "tie_prob": 0.15, "seed": 7},
    }}


def demo_config(base_url: str, store_url: str) -> Config:
    def endpoint(model: str) -> EndpointConfig:
        return EndpointConfig(base_url=base_url, model=model, max_concurrency=32, timeout=30)

    sampling = Sampling(temperature=0.0, max_tokens=512, seed=0)
    return Config(
        store_url=store_url,
        checkpoints={n: CheckpointConfig(name=n, endpoint=endpoint(n), sampling=sampling)
                     for n in (BASELINE, CANDIDATE)},
        judges={"sim-judge": JudgeConfig(name="sim-judge", endpoint=endpoint(JUDGE_MODEL))},
        defaults=Defaults(judge="sim-judge", pool="rlhf_prompts"),
    )


def true_win_rate() -> float:
    from .testing.scripts import build_script

    judge, _ = build_script(JUDGE_MODEL, scenario()["models"][JUDGE_MODEL])
    return judge.true_win_rate(BASELINE, CANDIDATE)  # type: ignore[union-attr]


def run_demo(store_url: str, pool: str = "rlhf_prompts", progress: bool = True,
             seed: int = 0) -> dict[str, Any]:
    from .compare import CompareOptions, compare_checkpoints
    from .testing.server import ScriptedServer

    with ScriptedServer(scenario()) as server:
        config = demo_config(server.base_url, store_url)
        summary = compare_checkpoints(config, BASELINE, CANDIDATE, pool=pool,
                                      options=CompareOptions(progress=progress, seed=seed))
    summary["simulated"] = {"true_win_rate": true_win_rate(), "server": server.base_url}
    return summary
