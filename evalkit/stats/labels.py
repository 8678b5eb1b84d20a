"""Agreement of predicted labels (an LLM classifier's topics) with reference labels (human
tags): accuracy, Cohen's kappa with its large-sample CI (``reliability.agreement``) and, per
label, precision, recall and F1. Plain sequences in, a frozen record out; no I/O."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from .reliability import agreement

__all__ = ["LabelAgreement", "LabelScore", "label_agreement"]


@dataclass(frozen=True)
class LabelScore:
    """One label: ``precision`` = right / predicted as it, ``recall`` = right / truly it
    (NaN when the denominator is 0), ``support`` = times it is the reference label,
    ``predicted`` = times it was predicted."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class LabelAgreement:
    """Agreement over the ``n`` items where both labels exist (``n_excluded`` had one
    missing). ``kappa`` is Cohen's kappa, ``kappa_ci`` its Wald interval at ``level``."""

    n: int
    n_excluded: int
    accuracy: float
    kappa: float
    kappa_se: float
    kappa_ci: tuple[float, float] | None
    level: float
    per_label: tuple[LabelScore, ...]

    @property
    def macro_f1(self) -> float:
        """Mean F1 over labels that occur as reference labels."""
        scores = [s.f1 for s in self.per_label if s.support and not math.isnan(s.f1)]
        return float(np.mean(scores)) if scores else float("nan")

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "n_excluded": self.n_excluded, "accuracy": self.accuracy,
                "kappa": self.kappa, "kappa_se": self.kappa_se,
                "kappa_ci": list(self.kappa_ci) if self.kappa_ci else None,
                "ci_level": self.level, "macro_f1": self.macro_f1,
                "per_label": [{"label": s.label, "precision": s.precision,
                               "recall": s.recall, "f1": s.f1, "support": s.support,
                               "predicted": s.predicted} for s in self.per_label]}


def _ratio(k: int, n: int) -> float:
    return k / n if n else float("nan")


def label_agreement(predicted: Sequence[Hashable | None], truth: Sequence[Hashable | None],
                    *, level: float = 0.95) -> LabelAgreement:
    """Compare ``predicted`` with ``truth`` item by item; None, "" and "invalid" mark a
    missing label and drop the item."""
    stats = agreement(list(predicted), list(truth), level=level)
    labels = [str(x) for x in stats["labels"]]
    conf = np.asarray(stats["confusion"], dtype=int).reshape(len(labels), len(labels))
    per_label = []
    for i, label in enumerate(labels):
        right, pred, support = int(conf[i, i]), int(conf[i].sum()), int(conf[:, i].sum())
        p, r = _ratio(right, pred), _ratio(right, support)
        f1 = 2 * right / (pred + support) if pred + support else float("nan")
        per_label.append(LabelScore(label, p, r, f1, support, pred))
    ci = stats.get("kappa_ci")
    return LabelAgreement(
        n=int(stats["n"]), n_excluded=int(stats["n_excluded"]),
        accuracy=float(stats["accuracy"]), kappa=float(stats["kappa"]),
        kappa_se=float(stats["kappa_se"]), kappa_ci=None if ci is None else (ci[0], ci[1]),
        level=level, per_label=tuple(per_label))
