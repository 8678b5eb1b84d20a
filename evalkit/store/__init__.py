"""The store: SQLModel tables, one engine factory, and the queries everything else uses."""

from .engine import make_engine

__all__ = ["make_engine"]
