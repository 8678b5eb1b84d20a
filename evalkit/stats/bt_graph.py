"""The comparison graph behind a Bradley–Terry fit: connected components, the pins that fix
each component's shift, Zermelo's condition for a finite MLE (batched), and a readable reason
when it fails. Pure numpy."""

from __future__ import annotations

import numpy as np

from .bt_counts import BattleCounts

__all__ = ["components"]


def _reach(adj: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per batch element, the models reachable from any of ``starts`` along ``adj[r, i, j]``."""
    seen = np.zeros(adj.shape[:2], dtype=bool)
    seen[:, np.asarray(starts, dtype=np.intp)] = True
    a = adj.astype(float)
    while True:
        nxt = seen | (np.matmul(seen[:, None, :].astype(float), a)[:, 0, :] > 0)
        if np.array_equal(nxt, seen):
            return seen
        seen = nxt


def components(met: np.ndarray) -> np.ndarray:
    """Connected components of a symmetric "met" matrix: labels 1, 2, … per model, the largest
    component first (ties: the one holding the lowest model index)."""
    k = met.shape[0]
    raw = np.zeros(k, dtype=np.intp)
    groups: list[np.ndarray] = []
    for s in range(k):
        if raw[s]:
            continue
        members = np.flatnonzero(_reach(met[None], np.array([s]))[0])
        groups.append(members)
        raw[members] = len(groups)
    order = sorted(range(len(groups)), key=lambda g: (-groups[g].size, groups[g][0]))
    labels = np.zeros(k, dtype=np.intp)
    for new, g in enumerate(order, start=1):
        labels[groups[g]] = new
    return labels


def _met(counts: BattleCounts) -> np.ndarray:
    return (counts.wins + counts.wins.T + counts.ties) > 0


def _pins(labels: np.ndarray, ref: int | None) -> np.ndarray:
    """One model per component held fixed by the solver: the anchor in its component, else
    the component's first model."""
    pins = []
    for c in range(1, int(labels.max()) + 1 if labels.size else 1):
        members = np.flatnonzero(labels == c)
        pins.append(ref if ref is not None and labels[ref] == c else int(members[0]))
    return np.array(pins, dtype=np.intp)


def _finite_mle(w: np.ndarray, labels: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """(batch, components): True where the component's "i scored against j" graph is strongly
    connected — Zermelo's condition for a finite MLE. Resampled edges are a subset of the
    observed ones, so reaching from all pins at once never leaves a component."""
    adj = w > 0
    both = _reach(adj, pins) & _reach(adj.transpose(0, 2, 1), pins)
    return np.stack([both[:, labels == c].all(axis=1) for c in range(1, pins.size + 1)], axis=1)


def _explain_no_mle(counts: BattleCounts) -> str:
    """A readable reason why the unpenalised MLE does not exist."""
    names = counts.models
    k = len(names)
    met = _met(counts)
    unseen = [names[i] for i in range(k) if not met[i].any()]
    if unseen:
        return (f"model(s) {unseen} have no battles; their ratings are not identifiable. "
                "Remove them or pass l2 > 0 for a ridge-regularised fit")
    labels = components(met)
    if labels.max() > 1:
        comps = [[names[i] for i in np.flatnonzero(labels == c)]
                 for c in range(1, int(labels.max()) + 1)]
        comps.sort(key=lambda g: g[0])
        return (f"the comparison graph is not connected: groups {comps} were never compared "
                "with each other, so their relative ratings are not identifiable. Add battles "
                "between the groups or pass l2 > 0 for a ridge-regularised fit")
    adj = (counts.effective_wins() > 0)[None]
    best: tuple[int, str] | None = None
    for v in range(k):
        never_lost = _reach(adj.transpose(0, 2, 1), np.array([v]))[0]  # winning chain to v
        never_won = _reach(adj, np.array([v]))[0]  # models v has a winning chain to
        for group, what in ((never_lost, "never lost to (or tied with)"),
                            (never_won, "never beat (or tied with)")):
            size = int(group.sum())
            if size < k and (best is None or size < best[0]):
                members = [names[i] for i in np.flatnonzero(group)]
                best = (size, f"model(s) {members} {what} any model outside that group")
    if best is None:
        return "the data do not determine finite ratings"
    return (f"{best[1]}, so the maximum-likelihood rating gap is infinite. Add battles or "
            "pass l2 > 0 for a finite, ridge-shrunk estimate")


def _sub_counts(counts: BattleCounts, members: np.ndarray) -> BattleCounts:
    sel = np.ix_(members, members)
    return BattleCounts(tuple(counts.models[i] for i in members), counts.wins[sel],
                        counts.ties[sel])
