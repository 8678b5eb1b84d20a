"""Benchmarks through lm-eval: suites, the runner, per-sample storage, paired comparisons
between checkpoints, and the transfer check against pairwise win rates (docs/benchmarks.md).

- ``suites``: evalkit's suite files (``suites/NAME/suite.toml``) and their task YAMLs
- ``runner.run_suite``: run a suite on a checkpoint through ``lm_eval.simple_evaluate``
- ``cache``: evalkit's store as lm-eval's request cache, keyed by the checkpoint's identity
- ``compare.compare_checkpoints``: paired deltas, exact McNemar, Holm, flipped documents
- ``transfer.transfer``: benchmark deltas beside pairwise win rates along a chain

Nothing here is imported by ``import evalkit``; lm-eval itself is imported only when a task has
to run.
"""
