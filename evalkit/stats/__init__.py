"""Statistics for checkpoint comparisons. Pure numpy/scipy: no I/O, no database, every RNG
seeded. One module per topic; the public names are re-exported here.

The re-exports load on first use (PEP 562 module ``__getattr__``): ``import evalkit.stats`` costs
nothing, and ``stats.win_rate_summary`` imports only ``stats.bootstrap`` (numpy and
``scipy.special``), not the modules that need ``scipy.stats`` or ``scipy.optimize`` — a compare
or a cached rerun pays only for the statistics it prints (docs/throughput.md, "Time to
answer")."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and readers see; at run time these load lazily
    from .bootstrap import bca_ci, bootstrap_means, cluster_scores, percentile_ci, win_rate_summary
    from .bradley_terry import (
        BattleCounts,
        BTFit,
        BTResult,
        PromptCounts,
        aggregate_battles,
        bootstrap_bt,
        bootstrap_bt_prompts,
        fit_bt,
        predicted_win_matrix,
        rank_by_ci,
        win_probability,
    )
    from .hypothesis import (
        benjamini_hochberg,
        holm,
        noninferiority,
        paired_test,
        regression_test,
        sign_test,
        superiority,
    )
    from .intervals import effective_sample_size, win_rate_interval
    from .length import length_controlled_win_rate
    from .paired import PairedDelta, mcnemar_exact, min_detectable_drop, paired_delta
    from .power import (
        Plan,
        PlanSpec,
        SequentialPlan,
        min_detectable_difference,
        min_detectable_regression,
        plan_margin_test,
        required_prompts,
        required_prompts_margin,
        score_sd,
    )
    from .reliability import (
        agreement,
        first_position_win_rate,
        longer_response_win_rate,
        position_flip_rate,
    )
    from .sequential import (
        Look,
        OperatingCharacteristics,
        SequentialDesign,
        SequentialResult,
        SequentialSpec,
        analyse_look,
        design_sequential,
        final_look_boundaries,
        look_target,
        operating_characteristics,
        run_sequential,
    )

# public name -> the submodule that defines it
_MODULES: dict[str, tuple[str, ...]] = {
    "bootstrap": ("bca_ci", "bootstrap_means", "cluster_scores", "percentile_ci",
                  "win_rate_summary"),
    "bradley_terry": ("BattleCounts", "BTFit", "BTResult", "PromptCounts", "aggregate_battles",
                      "bootstrap_bt", "bootstrap_bt_prompts", "fit_bt", "predicted_win_matrix",
                      "rank_by_ci", "win_probability"),
    "hypothesis": ("benjamini_hochberg", "holm", "noninferiority", "paired_test",
                   "regression_test", "sign_test", "superiority"),
    "intervals": ("effective_sample_size", "win_rate_interval"),
    "length": ("length_controlled_win_rate",),
    "paired": ("PairedDelta", "mcnemar_exact", "min_detectable_drop", "paired_delta"),
    "power": ("Plan", "PlanSpec", "SequentialPlan", "min_detectable_difference",
              "min_detectable_regression", "plan_margin_test", "required_prompts",
              "required_prompts_margin", "score_sd"),
    "reliability": ("agreement", "first_position_win_rate", "longer_response_win_rate",
                    "position_flip_rate"),
    "sequential": ("Look", "OperatingCharacteristics", "SequentialDesign", "SequentialResult",
                   "SequentialSpec", "analyse_look", "design_sequential",
                   "final_look_boundaries", "look_target", "operating_characteristics",
                   "run_sequential"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load a re-exported name (or a submodule, ``stats.paired``) on first use."""
    module = _WHERE.get(name)
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module is not None:
        value = getattr(import_module(f".{module}", __name__), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    try:
        return import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "BTFit", "BTResult", "BattleCounts", "aggregate_battles", "agreement", "bca_ci",
    "benjamini_hochberg", "bootstrap_bt", "bootstrap_means", "cluster_scores", "fit_bt",
    "first_position_win_rate", "holm", "length_controlled_win_rate", "longer_response_win_rate",
    "min_detectable_difference", "noninferiority", "paired_test", "percentile_ci",
    "position_flip_rate", "predicted_win_matrix", "rank_by_ci", "regression_test", "required_prompts",
    "sign_test", "superiority", "win_probability", "win_rate_summary",
    # gate planning and the sequential gate
    "Look", "OperatingCharacteristics", "Plan", "PlanSpec", "SequentialDesign",
    "SequentialPlan", "SequentialResult", "SequentialSpec", "analyse_look",
    "design_sequential", "final_look_boundaries", "look_target", "min_detectable_regression",
    "operating_characteristics", "plan_margin_test", "required_prompts_margin",
    "run_sequential", "score_sd",
    # intervals and the prompt-cluster leaderboard bootstrap
    "PromptCounts", "bootstrap_bt_prompts", "effective_sample_size", "win_rate_interval",
    # benchmarks: paired differences between checkpoints on the same documents
    "PairedDelta", "mcnemar_exact", "min_detectable_drop", "paired_delta",
]
