"""Bring existing results (AlpacaEval, Arena-Hard, MT-Bench) into evalkit's store."""

from .bundle import ImportBundle, ImportedJudgment

__all__ = ["ImportBundle", "ImportedJudgment"]
