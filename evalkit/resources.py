"""Where the shipped data lives: the repository root when developing, the wheel when installed.

The top-level folders ``suites/``, ``judges/`` and ``dashboard/`` are copied into the wheel as
``evalkit/_data/<name>`` (see pyproject.toml); in a source checkout they sit beside ``evalkit/``.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder for a shipped resource group: 'suites', 'judges' or 'dashboard'."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"evalkit's shipped folder '{name}' is missing; reinstall evalkit")


def shipped_pools() -> dict[str, Path]:
    """Pools that ship with evalkit, by name (file stem)."""
    folder = data_dir("suites") / "pools"
    return {p.stem: p for p in sorted(folder.glob("*.jsonl"))}
