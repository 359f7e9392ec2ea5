"""The default test of the sensitivity estimators: the held-out conditional test of the user's
network (``null="holdout"``), joined to the method's table of the user's network.

The table keeps two kinds of columns apart, and the report says which is which:

* ``importance``, ``relative_importance``, ``rank``, ``direction`` (and a method's own
  statistics): the method applied to the network the user passed (fitted by them, or fitted
  once on all rows by ``fit``), exactly the numbers the estimator gives without a test;
* ``loss_increase``, ``p_value``, ``p_adjusted``, ``significant``: the held-out conditional
  test of :class:`sensitivity.HoldoutConditionalTest` (Tansey et al. 2022; Watson & Wright
  2021): the increase of the held-out loss when :math:`x_j` is replaced by draws from a model
  of :math:`x_j` given the other inputs, and the holdout randomization test's p-value of
  :math:`H_{0j}: y \\perp x_j \\mid x_{-j}`. Without held-out rows the test cross-fits clones of
  the user's estimator (same hyperparameters) on ``cv`` folds; with ``X_test, y_test`` it
  evaluates the user's network itself on them. The test's statistic is the same for every
  method (it is about the network's predictions, not about one importance formula).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..holdout import HYPOTHESIS, HoldoutConditionalTest

__all__ = ["HOLDOUT_NULL", "TEST_COLUMNS", "heldout_columns", "heldout_summary", "run_heldout_test"]

HOLDOUT_NULL = "holdout"
"""The ``null`` of the held-out conditional test (the estimators' default)."""

TEST_COLUMNS = ("loss_increase", "p_value", "p_adjusted", "significant")
"""The columns of ``importances_`` that come from the held-out test, not from the method."""


def _is_refittable(model) -> bool:
    return hasattr(model, "fit") and hasattr(model, "get_params")


def run_heldout_test(est, X, y, X_test, y_test, fit_params, seed) -> HoldoutConditionalTest:
    """Run the held-out conditional test for the sensitivity estimator ``est`` (fitted
    ``est.estimator_`` already set) and return the fitted test."""
    name = type(est).__name__
    if est.n_bootstrap:
        raise ValueError(
            f"{name}(null={HOLDOUT_NULL!r}) runs no bootstrap (the held-out test gives a "
            f"t-interval of the loss increase instead): set n_bootstrap=0 (got "
            f"{est.n_bootstrap}), or use null='conditional' for bootstrap intervals of the "
            "importance from retrained networks."
        )
    if getattr(est, "_encoding_", None) is not None:
        raise ValueError(
            f"{name}(null={HOLDOUT_NULL!r}): the held-out test draws each input from a model of "
            "it given the others, which needs numeric inputs; a network behind a "
            "ColumnTransformer takes non-numeric columns. Use null='conditional' (it retrains "
            "networks on the encoded columns)."
        )
    if X_test is None and not _is_refittable(est.estimator):
        raise TypeError(
            f"{name}(null={HOLDOUT_NULL!r}) tests your network on rows it was not trained on: "
            f"a {type(est.estimator).__name__} cannot be refitted on folds, so pass held-out "
            "rows, fit(X_train, y_train, X_test=..., y_test=...), or use null='conditional' "
            "(it retrains networks of your architecture with the batched trainer)."
        )
    if X_test is not None and y_test is None:
        raise ValueError("X_test needs y_test (the held-out targets).")
    sampler = est.conditional if callable(est.conditional) else None
    test = HoldoutConditionalTest(
        est.estimator,
        prefit=X_test is not None,
        n_draws=est.n_permutations,
        conditional="auto" if sampler is not None else est.conditional,
        sampler=sampler,
        loss=getattr(est, "loss", "auto"),
        alpha=est.alpha,
        p_adjust=est.p_adjust,
        random_state=seed,
        n_jobs=est.n_jobs,
    )
    test._validate_params()
    test._refuse_few_draws = False  # warn, and the report says it (as for the other nulls)
    return test._fit(X, y, X_test, y_test, fit_params, fitted=est.estimator_)


def heldout_columns(frame: pd.DataFrame, test: HoldoutConditionalTest, alpha: float):
    """``frame`` (the method's table of the user's network) with the test's per-variable
    columns: ``loss_increase`` just before ``p_value``, the p-values, ``significant`` (adjusted
    p at most ``alpha``, only for variables that were tested), ``conditional_r2``,
    ``conditional_model`` and ``note``."""
    tf = test.importances_
    variables = frame.index.get_level_values(-1)

    def per_row(column):
        return tf[column].reindex(variables).to_numpy()

    out = frame.copy()
    out["loss_increase"] = per_row("importance")
    out["p_value"] = per_row("p_value")
    out["p_adjusted"] = per_row("p_adjusted")
    p_adj = out["p_adjusted"].to_numpy(dtype=float)
    out["significant"] = np.where(np.isnan(p_adj), False, p_adj <= alpha * (1 + 1e-9))
    out["conditional_r2"] = per_row("r2_conditional")
    for column in test.test_columns():
        out[column] = per_row(column)
    cols = [c for c in out.columns if c != "loss_increase"]
    cols.insert(cols.index("p_value"), "loss_increase")
    out = out[cols]
    out.attrs = dict(frame.attrs)
    return out


def heldout_summary(test: HoldoutConditionalTest, method: str, n_fit: int | None) -> dict:
    """Header rows and notes of the report: which network and rows each column describes."""
    folds = test.mode_ == "cross-fitting"
    user = (
        f"your network ({'as you passed it' if n_fit is None else f'fitted on all {n_fit} rows'})"
    )
    where = (
        f"clones of your estimator (same settings) each fitted on {len(test.estimators_) - 1} of "
        f"{len(test.estimators_)} folds and evaluated on the held-out fold ({test.n_heldout_} "
        "held-out rows in all)"
        if folds
        else f"your network on the {test.n_heldout_} held-out rows X_test"
    )
    columns = [
        f"importance, rank, direction: {method} of {user}",
        f"loss_increase, p_value: held-out test of {where}; loss_increase = mean increase of "
        "the held-out loss when x_j is replaced by draws from its model given the other inputs "
        "(conditional_model)",
    ]
    return {
        "hypothesis": HYPOTHESIS,
        "test": (
            f"holdout randomization test on held-out loss, {test.n_draws} conditional draws "
            f"per variable ({f'{len(test.estimators_)}-fold cross-fitting' if folds else 'test set'})"
        ),
        "columns": columns,
    }
