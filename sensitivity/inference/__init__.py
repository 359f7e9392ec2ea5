"""Randomization tests, bootstrap intervals and multiple-testing adjustment.

The only package that knows what a p-value is (``docs/architecture.rst``). Layers:

* :mod:`.pvalues` — p-values, the global min-p test, adjustment, percentile intervals;
* :mod:`.engine` — :class:`Statistic`, :class:`InferenceConfig`, :class:`InferenceResult` and
  :func:`run_test`, the one algorithm of every test (nulls documented there);
* :mod:`.batched` / :mod:`.clones` — the two refitters (batched trainer; clones of the
  estimator), each with ``fit(y_perm=..., col_values=..., sample_weight=...)``;
* :mod:`.runner` — :func:`analyse_model`, what the estimators call;
* :mod:`.loco` — :func:`loco_test`, the cross-fitted leave-one-covariate-out test (refits
  clones of the user's estimator without each input; no model of the inputs).
"""

from .engine import (
    HYPOTHESES,
    NULLS,
    InferenceConfig,
    InferenceResult,
    Statistic,
    run_test,
    seed_streams,
)
from .loco import LOCO_HYPOTHESIS, LocoResult, loco_statistics, loco_test
from .pvalues import (
    P_ADJUST_METHODS,
    adjust_pvalues,
    bootstrap_interval,
    min_p_global,
    permutation_pvalues,
    smallest_attainable_p,
)
from .runner import InferenceSettings, analyse_model, check_target

__all__ = [
    "HYPOTHESES",
    "LOCO_HYPOTHESIS",
    "NULLS",
    "P_ADJUST_METHODS",
    "InferenceConfig",
    "InferenceResult",
    "InferenceSettings",
    "LocoResult",
    "Statistic",
    "adjust_pvalues",
    "analyse_model",
    "bootstrap_interval",
    "check_target",
    "loco_statistics",
    "loco_test",
    "min_p_global",
    "permutation_pvalues",
    "run_test",
    "seed_streams",
    "smallest_attainable_p",
]
