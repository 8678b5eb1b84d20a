"""The store: SQLModel tables, one engine factory, and the queries everything else uses.

``make_engine`` loads on first use (module ``__getattr__``): ``evalkit.store.urls`` and the
other light submodules import without SQLAlchemy."""

from __future__ import annotations

from typing import Any

__all__ = ["make_engine"]


def __getattr__(name: str) -> Any:
    if name == "make_engine":
        from .engine import make_engine

        return make_engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
