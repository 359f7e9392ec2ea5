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

import copy
import numbers

import joblib
import numpy as np
import pandas as pd

from .. import adapters
from ..holdout import HYPOTHESIS, HoldoutConditionalTest
from ..inference.loco import LocoResult, loco_test

__all__ = [
    "HOLDOUT_NULL",
    "LOCO_NULL",
    "join_test",
    "per_variable_table",
    "run_heldout_test",
    "run_loco",
    "test_summary",
]

HOLDOUT_NULL = "holdout"
"""The ``null`` of the held-out conditional test (the estimators' default)."""

LOCO_NULL = "loco"
"""The ``null`` of the leave-one-covariate-out test (Lei et al. 2018; Williamson et al. 2023)."""


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
    if X_test is None and not adapters.is_refittable_model(est.estimator):
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
    key = _cache_key(test, X, y, X_test, fit_params, sampler)
    if key is not None and key in _CROSS_FIT_CACHE:
        cached = copy.copy(_CROSS_FIT_CACHE[key])
        cached.estimator_ = est.estimator_
        return cached
    test._fit(X, y, X_test, y_test, fit_params, fitted=est.estimator_)
    if key is not None:
        _CROSS_FIT_CACHE.clear()  # one entry: the last analysis's test
        _CROSS_FIT_CACHE[key] = test
    return test


_CROSS_FIT_CACHE: dict[str, HoldoutConditionalTest] = {}
"""The last cross-fitted test: several methods (Olden, then Garson, ...) on the same data with
the same settings test the same thing, a statement about the network's predictions that does
not depend on the importance formula, so the second fit reuses the first's test instead of
repeating it. Used only where the result is a deterministic function of the key (an integer
``random_state``, no user sampler, cross-fitting)."""


def _cache_key(test, X, y, X_test, fit_params, sampler) -> str | None:
    """A hash of everything the cross-fitted test's numbers depend on, or None where it must
    not be reused."""
    if X_test is not None or sampler is not None or fit_params:
        return None
    if not isinstance(test.random_state, numbers.Integral):
        return None
    params = test.get_params(deep=False)
    spec = (type(test.estimator), test.estimator.get_params(deep=True))
    params.pop("estimator")
    return joblib.hash((spec, params, X, y))


def per_variable_table(test) -> pd.DataFrame:
    """The test's per-variable columns, indexed by variable: ``loss_increase`` (the tested
    statistic), ``p_value``, ``p_adjusted`` and descriptive columns (``conditional_r2``,
    ``conditional_model``, ``note`` for the held-out test; ``std_error`` for LOCO)."""
    if isinstance(test, HoldoutConditionalTest):
        tf = test.importances_
        out = pd.DataFrame(
            {
                "loss_increase": tf["importance"],
                "p_value": tf["p_value"],
                "p_adjusted": tf["p_adjusted"],
                "conditional_r2": tf["conditional_r2"],
            }
        )
        described = test.test_columns()
        for column in described:
            out[column] = described[column].reindex(out.index)
        return out
    return pd.DataFrame(  # a LocoResult, with its adjusted p-values added by the caller
        {"loss_increase": test.importance, "p_value": test.p_value, "std_error": test.std_error},
        index=pd.Index(test.feature_names, name="variable"),
    )


def join_test(frame: pd.DataFrame, per_variable: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``frame`` (the method's table of the user's network, untouched columns) with a
    per-variable test's columns (:func:`per_variable_table`) on every output's rows:
    ``loss_increase`` just before ``p_value``; ``significant`` is adjusted p at most ``alpha``
    (never for a variable that was not tested, nor for one whose conditional model failed its
    check: ``reliable`` False)."""
    variables = frame.index.get_level_values(-1)
    out = frame.copy()
    for column in per_variable:
        out[column] = per_variable[column].reindex(variables).to_numpy()
    p_adj = out["p_adjusted"].to_numpy(dtype=float)
    out["significant"] = np.where(np.isnan(p_adj), False, p_adj <= alpha * (1 + 1e-9))
    if "reliable" in out:  # a conditional model that fails its check gives no star
        out["significant"] &= out["reliable"].to_numpy(dtype=bool)
    cols = [c for c in out.columns if c != "loss_increase"]
    cols.insert(cols.index("p_value"), "loss_increase")
    out = out[cols]
    out.attrs = dict(frame.attrs)
    return out


def run_loco(est, X, y, fit_params, seed) -> LocoResult:
    """Run the leave-one-covariate-out test (:func:`sensitivity.inference.loco_test`) for the
    sensitivity estimator ``est``."""
    name = type(est).__name__
    if est.n_bootstrap:
        raise ValueError(
            f"{name}(null={LOCO_NULL!r}) runs no bootstrap: set n_bootstrap=0 (got "
            f"{est.n_bootstrap}), or use null='conditional' for bootstrap intervals."
        )
    if not adapters.is_refittable_model(est.estimator):
        raise TypeError(
            f"{name}(null={LOCO_NULL!r}) refits your estimator without each input; a "
            f"{type(est.estimator).__name__} cannot be refitted. Use null='holdout' with "
            "held-out rows (fit(X, y, X_test=..., y_test=...))."
        )
    return loco_test(
        est.estimator,
        X,
        y,
        alpha=est.alpha,
        random_state=seed,
        n_jobs=est.n_jobs,
        fit_params=fit_params or None,
    )


def fit_line(est, X, y, test, y_heldout) -> str:
    """The report's fit line: the user's network on the rows it was fitted on (its ``score``)
    and the tested models on the held-out rows (R^2 from the mean held-out squared error for a
    regressor, the mean log-loss for a classifier)."""
    parts = []
    model = est.estimator_
    if y is not None and hasattr(model, "score"):
        name = "accuracy" if adapters.is_classifier_model(model) else "R^2"
        try:
            parts.append(f"your network {name} {float(model.score(X, y)):.3f} on the fitted rows")
        except (TypeError, ValueError):  # a model whose score does not take these inputs
            pass
    loss = test.loss_full if isinstance(test, LocoResult) else test.loss_
    who = "clones" if isinstance(test, LocoResult) or test.mode_ == "cross-fitting" else "it"
    if adapters.is_classifier_model(model):
        parts.append(f"{who} held out: log-loss {loss:.3f}")
    else:
        Y = np.asarray(y_heldout, dtype=np.float64).reshape(len(y_heldout), -1)
        spread = float(((Y - Y.mean(axis=0)) ** 2).sum(axis=1).mean())
        if spread > 0:
            parts.append(f"{who} held out: R^2 {1.0 - loss / spread:.3f}")
    return "; ".join(parts)


def test_summary(test, method: str, n_fit: int | None) -> dict:
    """The report's hypothesis, test line and one line per group of columns: which network
    and which rows each column describes."""
    user = (
        f"your network ({'as you passed it' if n_fit is None else f'fitted on all {n_fit} rows'})"
    )
    first = f"importance, rank, direction: {method} of {user}"
    if isinstance(test, LocoResult):
        how = "split halves" if test.split else "paired differences"
        return {
            "hypothesis": test.hypothesis,
            "test": f"leave-one-covariate-out, 5-fold cross-fitting, one-sided z-test ({how})",
            "columns": [
                first,
                "loss_increase, p_value: held-out loss of clones of your estimator refitted "
                "without x_j minus that of clones refitted with all inputs (5-fold "
                f"cross-fitting, {int(test.n_heldout[0])} held-out rows)",
            ],
        }
    folds = test.mode_ == "cross-fitting"
    k = len(getattr(test, "estimators_", ()))
    where = (
        f"clones of your estimator (same settings) each fitted on {k - 1} of {k} folds and "
        f"evaluated on the held-out fold ({test.n_heldout_} held-out rows in all)"
        if folds
        else f"your network on the {test.n_heldout_} held-out rows X_test"
    )
    return {
        "hypothesis": HYPOTHESIS,
        "test": (
            f"holdout randomization test on held-out loss, {test.n_draws} conditional draws "
            f"per variable ({f'{k}-fold cross-fitting' if folds else 'test set'})"
        ),
        "columns": [
            first,
            f"loss_increase, p_value: held-out test of {where}; loss_increase = mean increase "
            "of the held-out loss when x_j is replaced by draws from its model given the other "
            "inputs (model of x_j)",
            _check_line(test, max(k, 1)),
        ],
    }


def _check_line(test: HoldoutConditionalTest, n_sets: int) -> str:
    """What the check of the conditional models covered."""
    done = test.checked_folds_
    what = (
        "each model of x_j checked on held-out rows (a classifier tries to tell the real column "
        "from a draw; '?' where it can)"
    )
    if done == n_sets:
        return f"sig: {what}"
    if done == 0:
        return (
            "sig: the models of x_j could not be checked (fewer than 20 held-out rows per "
            "fold): read the stars with care"
        )
    return f"sig: {what}, on {done} of {n_sets} folds (the others hold out fewer than 20 rows)"
