"""Randomization tests, bootstrap intervals and multiple-testing adjustment.

The only package that knows what a p-value is (``DESIGN.md`` §2). Layers:

* :mod:`.pvalues` — p-values, the global min-p test, adjustment, percentile intervals;
* :mod:`.engine` — :class:`Statistic`, :class:`InferenceConfig`, :class:`InferenceResult` and
  :func:`run_test`, the one algorithm of every test (nulls documented there);
* :mod:`.batched` / :mod:`.clones` — the two refitters (batched trainer; clones of the
  estimator), each with ``fit(y_perm=..., col_values=..., sample_weight=...)``;
* :mod:`.runner` — :func:`analyse_model`, what the estimators call.
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
    "NULLS",
    "P_ADJUST_METHODS",
    "InferenceConfig",
    "InferenceResult",
    "InferenceSettings",
    "Statistic",
    "adjust_pvalues",
    "analyse_model",
    "bootstrap_interval",
    "check_target",
    "min_p_global",
    "permutation_pvalues",
    "run_test",
    "seed_streams",
    "smallest_attainable_p",
]
