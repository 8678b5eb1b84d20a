"""Bring existing results (AlpacaEval, Arena-Hard, MT-Bench) into evalkit's store.

Each reader returns a format-neutral ``ImportBundle``; each writer writes one back in the
source's own layout (``evalkit.importing`` stores and reloads bundles).
"""

from .alpaca_eval import read_alpaca_eval, write_alpaca_eval
from .arena_hard import read_arena_hard, write_arena_hard
from .bundle import ImportBundle, ImportedJudgment
from .mt_bench import read_mt_bench, write_mt_bench

__all__ = ["ImportBundle", "ImportedJudgment", "read_alpaca_eval", "read_arena_hard",
           "read_mt_bench", "write_alpaca_eval", "write_arena_hard", "write_mt_bench"]
