"""Pool curation: label prompts with an LLM classifier (``annotate``, ``classifier``,
``taxonomy``), remove near-duplicates (``dedup``), draw balanced pools (``sample``), find the
prompts that still separate checkpoints (``hardness``) and describe a pool (``pool_stats``);
``versions`` stores each result as a new pool version with its provenance.
docs/curation.md."""
