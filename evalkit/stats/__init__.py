"""Statistics for checkpoint comparisons. Pure numpy/scipy: no I/O, no database, every RNG
seeded. One module per topic; the public names are re-exported here."""

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
