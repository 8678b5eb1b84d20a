"""Statistics for checkpoint comparisons. Pure numpy/scipy: no I/O, no database, every RNG
seeded. One module per topic; the public names are re-exported here."""

from .bootstrap import bootstrap_means, cluster_scores, percentile_ci, win_rate_summary

__all__ = ["bootstrap_means", "cluster_scores", "percentile_ci", "win_rate_summary"]
