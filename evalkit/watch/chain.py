"""Where a checkpoint sits in the chain of rounds, and which checkpoint is its "previous".

Rules (``[watch] chain``):

* ``discovery`` — in the order the watcher found them (several found in one poll: in the
  source's order; a folder's oldest file first);
* ``step`` — by a step number in the id (``step_pattern``, a regular expression; its group,
  or the whole match, read as an integer; the last match counts: ``rlhf-r12`` → 12,
  ``ckpt-3-step-4000`` → 4000); a checkpoint without one cannot be placed (status
  ``ignored``, reported);
* ``parent`` — the ``parent`` the source names (vLLM lists a LoRA adapter's base model as its
  ``parent``; a folder entry ``X`` names it in ``X.meta.json``).

A checkpoint's previous is its predecessor in the chain — or, when that one could not be
evaluated (failing, or not evaluated yet), the nearest earlier one that was: each round is
compared with the last round that has results.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .state import USABLE, Watched


def step_number(ident: str, pattern: str) -> int | None:
    """The last match of ``pattern`` in ``ident`` as an integer, or None."""
    found = None
    for m in re.finditer(pattern, ident):
        found = m.group(1) if m.re.groups else m.group(0)
    if found is None:
        return None
    try:
        return int(found)
    except ValueError:
        return None


def order_key(row: Watched, rule: str) -> tuple[int, int, str]:
    """Sort key placing rows in chain order (parents are handled by ``in_order``)."""
    if rule == "step":
        return (row.step if row.step is not None else -1, row.seq, row.name)
    return (0, row.seq, row.name)


def in_order(rows: Mapping[str, Watched], rule: str) -> list[Watched]:
    """Rows in chain order: for ``parent``, every parent before its children (then by
    discovery); otherwise by ``order_key``."""
    ordered = sorted(rows.values(), key=lambda r: order_key(r, rule))
    if rule != "parent":
        return ordered
    out: list[Watched] = []
    placed: set[str] = set()

    def place(row: Watched, trail: tuple[str, ...] = ()) -> None:
        if row.name in placed or row.name in trail:  # a parent cycle: stop there
            return
        parent = rows.get(row.parent or "")
        if parent is not None:
            place(parent, (*trail, row.name))
        placed.add(row.name)
        out.append(row)

    for row in ordered:
        place(row)
    return out


def predecessor(row: Watched, rows: Mapping[str, Watched], rule: str) -> str | None:
    """The checkpoint just before ``row`` in the chain (by the rule alone)."""
    if rule == "parent":
        return row.parent if row.parent and row.parent != row.name else None
    if rule == "step" and row.step is None:
        return None
    key = order_key(row, rule)
    earlier = [r for r in rows.values() if r.name != row.name and order_key(r, rule) < key
               and (rule != "step" or r.step is not None)]
    return max(earlier, key=lambda r: order_key(r, rule)).name if earlier else None


def previous(row: Watched, rows: Mapping[str, Watched], rule: str,
             known: Callable[[str], bool]) -> tuple[str | None, list[str]]:
    """``row``'s previous: its predecessor if that one has results (or is a checkpoint the
    watcher did not discover: ``known``), else the nearest earlier one that has. Returns the
    name (None: the first of its chain) and notes on what was passed over."""
    notes: list[str] = []
    seen = {row.name}
    name = predecessor(row, rows, rule)
    while name is not None and name not in seen:
        seen.add(name)
        found = rows.get(name)
        if found is None:
            if known(name):
                return name, notes
            notes.append(f"parent {name} is not a known checkpoint")
            return None, notes
        if found.status in USABLE:
            return name, notes
        notes.append(f"{name} passed over ({found.status})")
        name = predecessor(found, rows, rule)
    return None, notes
