"""Contamination checks: which prompts and benchmark items appear in a training corpus.

``engine`` (pure: normalise, tokenise, hash, scan) and ``matches`` (pure: coverage, longest
span, any-hit, labels, spans) do the work; ``corpus`` streams the corpora; ``scan`` identifies
the corpus, serves stored results and stores new ones; ``dask_runner`` scales the scan out;
``report`` turns stored scans into rates, clean-vs-full scores and exclusion sets.
See docs/contamination.md.
"""

from .corpus import CorpusSpec, Problem
from .items import Item, ItemSet, pool_items, suite_items
from .matches import ItemMatch, Thresholds
from .scan import ScanOptions, ScanResult, run_scan

__all__ = ["CorpusSpec", "Item", "ItemMatch", "ItemSet", "Problem", "ScanOptions",
           "ScanResult", "Thresholds", "pool_items", "run_scan", "suite_items"]
