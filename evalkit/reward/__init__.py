"""Reward models in evalkit (docs/reward-models.md).

- ``spec``: ``[reward_models.NAME]`` in ``evalkit.toml`` → ``RewardModelConfig``;
- ``scorer``: scores (prompt, response) pairs, cached in the store, batched, shared across
  processes; the backends that do the scoring live in ``evalkit/backends/reward_*.py``;
- ``runs``: ``evalkit score`` — every response of a checkpoint on a pool, with the reward
  distribution per tag;
- ``pairs`` and ``rm_eval``: ``evalkit rm-eval`` — accuracy on human preference pairs;
- ``disagreement``: ``evalkit rm-vs-judge`` — where the reward model and an LLM judge part.

The reward model as a pairwise judge (``compare --judge rm:NAME``) is
``evalkit.judging.reward.RewardJudge``. Nothing here is imported by ``evalkit --help``.
"""
