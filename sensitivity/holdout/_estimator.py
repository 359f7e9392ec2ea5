"""The estimator: :class:`HoldoutConditionalTest` (held-out rows or cross-fitting)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.stats import binom
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.base import is_classifier as _sk_is_classifier
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import adapters
from .. import inference as _inference
from ..conditional import check_conditional, fit_conditional_models
from ..inference.holdout_tests import holdout_pvalues, min_heldout_rows, row_rank_pvalues
from ..inference.loco import cross_fitting_folds
from ..inference.pvalues import permutations_needed, warn_resolution
from ..methods import _data as _pdata
from ..methods.perturbation import encode_target, resolve_loss
from ..network import MLPBatch
from ..result import SensitivityResult, importance_frame
from ._engines import holdout_losses
from ._view import check_predicts, prediction_view

CHECK_MIN_ROWS = 20
"""Fewest rows a fold must hold out for the check of its conditional models (half train the
check's classifier, half are its test pairs); folds with fewer are left out of the check."""

CHECK_ALPHA = 0.01
"""A variable whose conditional model's check has p at most this is not starred: its draws are
distinguishable from the real column, so the network may be evaluated off its data."""

CONDITIONAL_ROWS = ("train", "test")
"""Rows the conditional models are fitted on: the held-out rows or the training rows."""

TESTS = ("hrt", "cpi", "rank")
"""``"hrt"``: holdout randomization test p-value; ``"cpi"``: one-sided t-test of the CPI."""

INTERVAL = "t-interval of the mean loss increase"
"""What ``ci_low`` and ``ci_high`` of the held-out test are (without their level)."""

HYPOTHESIS = (
    "H0_j: y independent of x_j given the other inputs (held-out loss of the fitted model with "
    "x_j equals that with x_j drawn from its conditional distribution)"
)


# ---------------------------------------------------------------------- estimator
class HoldoutConditionalTest(MetaEstimatorMixin, SelectorMixin, BaseEstimator):
    r"""Held-out conditional test of each input of a fitted model (no refitting).

    On held-out rows, each input :math:`x_j` is replaced by ``n_draws`` draws from a model of
    :math:`x_j` given the other inputs (fitted on the training rows;
    :mod:`sensitivity.conditional`) and the model's loss is compared with the loss on the
    real rows. Reports, per variable, the conditional predictive impact (mean loss increase;
    Watson & Wright 2021) with a :math:`t`-interval, the holdout randomization test p-value
    (Tansey et al. 2022) and the one-sided :math:`t`-test p-value; ``test`` chooses which one
    goes into ``p_value`` (and so into ``significant`` and ``transform``). Tests
    :math:`H_{0j}: y \perp x_j \mid x_{-j}`, variable by variable. See
    :mod:`sensitivity.holdout` for the formulas.

    Held-out rows come from either

    * ``fit(X, y, X_test=..., y_test=...)``: the model (fitted on ``X, y`` unless ``prefit``)
      is evaluated on the test set; the conditional models are fitted on ``X`` (default) or
      on ``X_test`` (``conditional_rows``); or
    * cross-fitting (no ``X_test``, ``prefit=False``): ``cv`` folds; a clone of the estimator
      is fitted on the other folds and evaluated on each held-out fold (the conditional models
      on the other folds, or on the held-out fold); losses are pooled over all rows.

    Parameters
    ----------
    estimator : object
        A scikit-learn regressor or classifier (classifiers need ``predict_proba``) or Pipeline;
        with ``prefit=True`` also a fitted torch ``nn.Module`` (``nn.Sequential`` MLPs are
        evaluated exactly and fast), an ``MLPBatch`` or a plain function
        ``predict(X) -> (n, n_outputs)``.
    prefit : bool, default=False
        Use ``estimator`` as already fitted (then ``X_test, y_test`` are required: rows the
        model was not trained on).
    n_draws : int, default=999
        Conditional draws per variable.
    test : {"hrt", "cpi", "rank"}, default="hrt"
        Which p-value is ``p_value``: the holdout randomization test on the total held-out loss
        (finite-sample, needs ``n_draws >= (1 - alpha) / alpha``), the one-sided t-test of the
        mean loss increase, or the row-rank test (each held-out row's rank of the real loss
        among the draws', averaged; every row weighs at most ``1/m``, so a few rows with huge
        losses cannot decide it: :func:`sensitivity.inference.holdout_tests.row_rank_pvalues`).
        All three are in the table (``p_hrt``, ``p_cpi``, ``p_rank``).
    cv : int or cross-validation splitter, default=5
        Folds for cross-fitting (a stratified, shuffled split for classifiers; each row
        must be held out at most once).
    conditional_rows : {"train", "test"}, default="train"
        Rows the conditional models are fitted on. ``"train"``: the training rows (the rows the
        model was fitted on), with draws on the held-out rows (gaussian residuals resampled);
        ``"test"``: the held-out rows themselves (their inputs only, never ``y``), with
        in-sample draws (gaussian residuals permuted, so the real column is one of the equally
        likely draws). Measured (``benchmarks/bench_holdout.py``, 'corr' design, 2,000 data
        sets): the HRT rejects 4.0-5.2 % of the noise inputs at 0.05 (pooled 4.4 % with
        ``"train"``, 4.8 % with ``"test"``). ``"train"`` gives the better intervals (coverage
        0.90-0.96 against 0.76-0.95: in-sample draws stay too close to the real column, which
        biases a large CPI down). Models fitted on the training rows reproduce that sample's
        chance relation between :math:`x_j` and the others, which the network has learned too,
        so for a noise input the draws lower the loss slightly (mean -0.004 where exact draws
        give 0): conservative, not anti-conservative.
    conditional : "auto", str, list or dict, default="auto"
        ``kinds`` of :func:`sensitivity.conditional.fit_conditional_models` (``"auto"``: per
        input, the gaussian regression with resampled residuals or boosted trees for a
        continuous input, logistic/multinomial regression or a boosted classifier for a
        binary or few-level integer one, whichever fits better on held-out rows; ...).
    sampler : callable or dict, optional
        User conditional samplers ``sampler(X, j, rng, n_draws) -> (n_draws, n_rows)``.
    loss : {"auto", "mse", "log_loss"}, default="auto"
        Row loss: squared error (regressors) or log-loss (classifiers). ``"log_loss"`` also
        marks a plain function or general torch module as returning class probabilities.
    alpha : float, default=0.05
        Level of the tests; the intervals have level ``1 - alpha``.
    p_adjust : str or None, default="holm"
        ``statsmodels`` ``multipletests`` method over the variables.
    max_features : int or None
        ``transform`` keeps at most this many significant variables.
    random_state : int, RandomState or None
        Seeds the folds and the draws (one independent stream per variable and fold).
    memory_budget_mb : float, default=128
        Working memory of one batched evaluation (speed only; never changes the result).
    n_jobs : int or None, default=None
        Worker threads over the variables, each with one torch thread (None:
        ``torch.get_num_threads()``; a plain function or non-MLP model is evaluated in one
        thread). Never changes the result.

    Attributes
    ----------
    importances_ : pandas.DataFrame
        Ranked table: ``importance`` (mean held-out loss increase), ``p_value`` (per
        ``test``), ``p_adjusted``, ``significant``, ``ci_low``/``ci_high`` (t-interval),
        and ``p_hrt``, ``p_cpi``, ``std_error``, ``conditional_r2``.
    estimator_ : object
        The fitted model (with cross-fitting: a clone refitted on all rows, for ``predict``;
        the test is about the fold models ``estimators_``).
    conditional_models_ : list of ConditionalModel or None
        Fitted on the rows ``conditional_rows`` names (with cross-fitting: those of the first
        fold; ``fold_conditional_models_`` has every fold's); None for a variable that was not
        tested.
    fold_conditional_models_ : list of list
        Cross-fitting: the conditional models of each fold (the test used them).
    loss_ : float
        Mean held-out loss with the real inputs.
    null_distribution_ : ndarray of shape (n_features, n_draws)
        Mean held-out loss per draw (the HRT's :math:`T_b / m`).
    loss_differences_ : ndarray of shape (n_features, n_heldout)
        Per-row :math:`\Delta_i` (the CPI's data).
    n_heldout_ : int
    variable_names_ : tuple of str
        Names of the inputs: the columns of X (a DataFrame), else ``x0, x1, ...``; as the
        other estimators of the package name them.

    References
    ----------
    Tansey et al. (2022), J. Comput. Graph. Stat. 31(1), 151-162; Watson & Wright (2021),
    Machine Learning 110, 2107-2129; Candès et al. (2018), JRSS-B 80(3), 551-577.
    """

    _method_name = "Holdout conditional test"
    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["predict"]), torch.nn.Module, MLPBatch, callable, None],
        "prefit": ["boolean"],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "test": [StrOptions(set(TESTS))],
        "cv": ["cv_object"],
        "conditional": [str, list, dict],
        "conditional_rows": [StrOptions(set(CONDITIONAL_ROWS))],
        "sampler": [callable, dict, None],
        "loss": [StrOptions({"auto", "mse", "log_loss"})],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "p_adjust": [StrOptions(set(_inference.P_ADJUST_METHODS)), None],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "memory_budget_mb": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
    }
    _method = "auto"  # evaluation engine of holdout_losses (benchmarks compare them)
    # too few draws for any significance: an error here; a warning (and a note in the report)
    # when a sensitivity estimator runs this test for its table
    _refuse_few_draws = True

    def __init__(
        self,
        estimator=None,
        *,
        prefit: bool = False,
        n_draws: int = 999,
        test: str = "hrt",
        cv=5,
        conditional="auto",
        conditional_rows: str = "train",
        sampler=None,
        loss: str = "auto",
        alpha: float = 0.05,
        p_adjust: str | None = "holm",
        max_features: int | None = None,
        random_state=None,
        memory_budget_mb: float = 128,
        n_jobs: int | None = None,
    ) -> None:
        # scikit-learn's contract: every argument stored unchanged under its own name
        params = dict(locals())
        del params["self"]
        for name, value in params.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.estimator is None:
            raise ValueError("HoldoutConditionalTest needs an estimator (the model to test).")

    def _check_resolution(self, n_rows: int, n_tests: int) -> None:
        a, adj = self.alpha, self.p_adjust
        where = f" after {adj} adjustment over {n_tests} variables" if adj else ""
        if self.test == "hrt":
            smallest = _inference.smallest_attainable_p(self.n_draws, n_tests, adj)
            if smallest > a * (1 + 1e-9) and not self._refuse_few_draws:
                warn_resolution(self.n_draws, n_tests, a, adj)
            elif smallest > a * (1 + 1e-9):
                raise ValueError(
                    f"With n_draws={self.n_draws} the smallest attainable p-value{where} is "
                    f"{smallest:.4g} > alpha={a}: no variable could be significant. Use at "
                    f"least n_draws={permutations_needed(n_tests, a, adj)}."
                )
        need = min_heldout_rows(a, n_tests, adj)
        if n_rows < need:
            raise ValueError(
                f"Only {n_rows} held-out rows: even a loss increase on every row gives a "
                f"sign-test p-value of 2^-{n_rows} = {2.0**-n_rows:.3g}, above alpha={a}{where}. "
                f"Use at least {need} held-out rows."
            )

    def _check_X(self, X, label: str, names=None):
        try:
            return _pdata.check_data(X, feature_names=names, allow_constant=True)
        except ValueError as err:
            raise ValueError(f"{label}: {err}") from None

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, X_test=None, y_test=None, **fit_params):
        """Fit (unless ``prefit``) and test every input on held-out rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows (the conditional models are fitted on them), numeric and finite.
        y : array-like, optional
            Training target; needed unless ``prefit=True``.
        X_test, y_test : array-like, optional
            Held-out rows the model was not trained on. Without them: cross-fitting.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self
        """
        return self._fit(X, y, X_test, y_test, fit_params)

    def _fit(self, X, y, X_test, y_test, fit_params, fitted=None):
        """``fit``; ``fitted``: the model the caller already fitted on all of ``X, y`` (or the
        user's prefit model), kept as ``estimator_`` instead of a refit on all rows."""
        self._check_params()
        _pdata.check_numeric_columns(X)  # text columns named, with the fix
        # scikit-learn's checks and attributes first (n_features_in_, feature_names_in_,
        # sparse / complex / empty input), then the package's messages naming the column
        validate_data(
            self,
            X,
            reset=True,
            dtype=np.float64,
            ensure_all_finite=False,
            ensure_min_features=2,
            ensure_min_samples=2,
        )
        Xa, names = self._check_X(X, "X")
        self.variable_names_ = tuple(names)
        self.untestable_ = {}
        self._checks = {}  # per variable: [wins, untied pairs, AUC x rows, rows] over folds
        self.checked_folds_ = 0
        rs = check_random_state(self.random_state)
        budget = int(self.memory_budget_mb * 2**20)
        if X_test is not None:
            res = self._fit_test_set(Xa, X, y, X_test, y_test, rs, budget, fit_params, fitted)
        else:
            res = self._fit_cross(Xa, X, y, rs, budget, fit_params, fitted)
        self._finish(*res)
        return self

    def _check_fit_target(self, y) -> None:
        """Refuse a target the model cannot be meaningfully fitted to (constant, one class)."""
        _inference.check_target(y, is_classifier=adapters.is_classifier_model(self.estimator))

    def _fit_test_set(self, Xa, X, y, X_test, y_test, rs, budget, fit_params, fitted=None):
        """Held-out rows given by the user: the model (fitted on X, y unless prefit) on them."""
        names = self.variable_names_
        if y_test is None:
            raise ValueError("X_test needs y_test (the held-out targets).")
        Xt, test_names = self._check_X(X_test, "X_test", names)
        if isinstance(X_test, pd.DataFrame) and isinstance(X, pd.DataFrame):
            if list(test_names) != list(names):
                raise ValueError(
                    f"X_test has columns {list(test_names)} but X has {list(names)}; pass "
                    "the same columns in the same order."
                )
        if Xt.shape[1] != Xa.shape[1]:
            raise ValueError(f"X_test has {Xt.shape[1]} columns but X has {Xa.shape[1]}.")
        self._check_resolution(Xt.shape[0], Xa.shape[1])
        if fitted is not None:
            self.estimator_ = fitted
        elif self.prefit:
            if _is_sklearn(self.estimator):
                adapters.check_model_fitted(self.estimator)
            self.estimator_ = self.estimator
        else:
            if y is None:
                raise ValueError(
                    "HoldoutConditionalTest.fit needs y to fit the model; pass y, or "
                    "prefit=True with an already fitted model."
                )
            if not _is_sklearn(self.estimator):
                raise TypeError(_not_refittable(self.estimator))
            self._check_fit_target(y)
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        seeds = np.random.SeedSequence(rs.randint(2**31)).spawn(Xa.shape[1])
        models = self._conditional(Xt if self.conditional_rows == "test" else Xa, names)
        self._check_models(models, Xa if self.conditional_rows == "test" else Xt, rs)
        res = self._losses(self.estimator_, Xt, y_test, models, seeds, budget)
        self.conditional_models_ = models
        self.fold_conditional_models_ = []
        self.mode_ = "test set"
        return res.base, res.delta, res.draw_total, res.at_most

    def _fit_cross(self, Xa, X, y, rs, budget, fit_params, fitted=None):
        """No held-out rows given: cross-fitting, then the model refitted on all rows."""
        if self.prefit:
            raise ValueError(
                "prefit=True needs held-out rows the model was not trained on: pass "
                "X_test and y_test to fit (or prefit=False and an unfitted scikit-learn "
                "estimator for cross-fitting)."
            )
        if y is None:
            raise ValueError(
                "HoldoutConditionalTest requires y to be passed, but the target y is None "
                "(cross-fitting refits the estimator); pass y, or prefit=True with a "
                "fitted model and X_test, y_test."
            )
        if not _is_sklearn(self.estimator):
            raise TypeError(_not_refittable(self.estimator))
        self._check_fit_target(y)
        res = self._cross_fit(Xa, X, y, self.variable_names_, rs, budget, fit_params)
        self.conditional_models_ = self.fold_conditional_models_[0]
        self.estimator_ = (
            fitted if fitted is not None else clone(self.estimator).fit(X, y, **fit_params)
        )
        self.mode_ = "cross-fitting"
        return res

    def _losses(self, model, Xt, y_test, models, seeds, budget):
        """Row losses of ``model`` on held-out rows ``Xt`` under the conditional draws."""
        view = prediction_view(
            model, feature_names=self.variable_names_, loss=self.loss, n_features=Xt.shape[1]
        )
        check_predicts(view, Xt)
        Y, kind = encode_target(view, y_test, Xt.shape[0], resolve_loss(view, self.loss))
        keep = [k for k, cm in enumerate(models) if cm is not None]
        res = holdout_losses(
            view,
            Xt,
            Y,
            kind,
            [models[k] for k in keep],
            n_draws=self.n_draws,
            seeds=[seeds[k] for k in keep],
            memory_budget=budget,
            method=self._method,
            in_sample=self.conditional_rows == "test",
            n_jobs=self.n_jobs,
        )
        # untestable variables (no conditional model): NaN losses
        delta = np.full((len(models), Xt.shape[0]), np.nan)
        draw_total = np.full((len(models), self.n_draws), np.nan)
        delta[keep], draw_total[keep] = res.delta, res.draw_total
        at_most = np.full((len(models), Xt.shape[0]), np.nan)
        at_most[keep] = res.at_most
        res.delta, res.draw_total, res.at_most = delta, draw_total, at_most
        return res

    def _conditional(self, Xa, names) -> list:
        """One conditional model per variable, None for a variable whose model cannot be fitted
        (determined by the other inputs, constant, ...): that variable is not tested and
        ``untestable_[name]`` says why; the other variables are."""
        kinds = self.conditional
        if isinstance(kinds, list | tuple) and len(kinds) != len(names):
            raise ValueError(f"conditional has {len(kinds)} kinds for {len(names)} variables.")
        models, errors = [], []
        for j, name in enumerate(names):
            kind = kinds[j] if isinstance(kinds, list | tuple) else kinds
            try:  # its warnings point at the user's call (sensitivity._warnings)
                (cm,) = fit_conditional_models(
                    Xa, columns=[j], kinds=kind, sampler=self.sampler, feature_names=names
                )
            except ValueError as err:
                errors.append(err)
                self.untestable_.setdefault(name, str(err))
                cm = None
            models.append(cm)
        if len(errors) == len(names):  # nothing can be tested: a problem of the data
            where = "held-out" if self.conditional_rows == "test" else "training"
            raise ValueError(
                f"Conditional models on the {where} rows (conditional_rows="
                f"{self.conditional_rows!r}): {errors[0]}"
            ) from errors[0]
        return models

    def _folds(self, Xa, y_arr, rs) -> list:
        """The cross-fitting splits; each row held out at most once."""
        folds = cross_fitting_folds(
            self.cv, y_arr, classifier=_sk_is_classifier(self.estimator), rs=rs
        )
        seen = np.zeros(Xa.shape[0], dtype=int)
        for _, test in folds:
            seen[test] += 1
        self._check_resolution(int((seen > 0).sum()), Xa.shape[1])
        return folds

    def _check_models(self, models, X_eval, rs) -> None:
        """Classifier two-sample check of each conditional model on rows it was not fitted on
        (:func:`sensitivity.conditional.check_conditional`: a classifier trained on half of
        these rows, its paired sign test on the other half), pooled over the folds: the wins
        and untied pairs add up and the AUC is averaged over pairs. Each fold's check uses
        only that fold's held-out rows and draws, so under a right model the folds' counts are
        independent fair-coin counts and their sum is exactly binomial."""
        seeds = np.random.SeedSequence(rs.randint(2**31)).spawn(len(models))
        self.checked_folds_ += int(X_eval.shape[0] >= CHECK_MIN_ROWS)
        for cm, seed in zip(models, seeds, strict=True):
            if cm is None or cm.kind == "custom" or X_eval.shape[0] < CHECK_MIN_ROWS:
                continue
            c = check_conditional(cm, X_eval, np.random.default_rng(seed))
            acc = self._checks.setdefault(cm.name, np.zeros(4))
            acc += (c.n_wins, c.n_pairs - c.n_ties, c.auc * c.n_pairs, c.n_pairs)

    def _kinds(self) -> list[str]:
        """Per variable, the kind(s) of conditional model the test used ("/"-joined when
        ``"auto"`` chose differently in different folds; empty when not tested)."""
        sets = getattr(self, "fold_conditional_models_", None) or [self.conditional_models_]
        out = []
        for j, name in enumerate(self.variable_names_):
            kinds = [fold[j].kind for fold in sets if fold[j] is not None]
            out.append("" if name in self.untestable_ else "/".join(dict.fromkeys(kinds)))
        return out

    def check_results(self) -> pd.DataFrame:
        """The pooled check of each variable's conditional model, indexed by variable:
        ``check_auc`` (held-out AUC of a classifier telling the real column from a draw given
        the other inputs; 0.5: indistinguishable) and ``check_p`` (one-sided sign test over
        all folds' pairs; small: the draws are distinguishable, so the variable's p-value is
        unreliable). NaN where no check ran (untested variable, custom sampler)."""
        check_is_fitted(self, "untestable_")
        names = list(self.variable_names_)
        auc, p = np.full(len(names), np.nan), np.full(len(names), np.nan)
        for k, n in enumerate(names):
            if n in self._checks and n not in self.untestable_:
                wins, untied, auc_sum, rows = self._checks[n]
                auc[k] = auc_sum / rows
                p[k] = binom.sf(wins - 1, untied, 0.5) if untied else 1.0
        return pd.DataFrame(
            {"check_auc": auc, "check_p": p}, index=pd.Index(names, name="variable")
        )

    def _cross_fit(self, Xa, X, y, names, rs, budget, fit_params):
        """Losses of each fold's model on its held-out fold, pooled over the folds."""
        y_arr = np.asarray(y)
        folds = self._folds(Xa, y_arr, rs)
        seeds = np.random.SeedSequence(rs.randint(2**31)).spawn(len(folds) * Xa.shape[1])
        parts = []
        self.estimators_ = []
        self.fold_conditional_models_ = []
        for f, (train, test) in enumerate(folds):
            Xtr = X.iloc[train] if isinstance(X, pd.DataFrame) else Xa[train]
            ytr = y.iloc[train] if hasattr(y, "iloc") else y_arr[train]
            est = clone(self.estimator).fit(Xtr, ytr, **fit_params)
            self.estimators_.append(est)
            rows = test if self.conditional_rows == "test" else train
            models = self._conditional(Xa[rows], names)
            self.fold_conditional_models_.append(models)
            self._check_models(models, Xa[train if self.conditional_rows == "test" else test], rs)
            yte = y.iloc[test] if hasattr(y, "iloc") else y_arr[test]
            p = Xa.shape[1]
            parts.append(
                self._losses(est, Xa[test], yte, models, seeds[f * p : (f + 1) * p], budget)
            )
        base = np.concatenate([r.base for r in parts])
        delta = np.concatenate([r.delta for r in parts], axis=1)
        draw_total = np.sum([r.draw_total for r in parts], axis=0)
        at_most = np.concatenate([r.at_most for r in parts], axis=1)
        return base, delta, draw_total, at_most

    def _finish(self, base, delta, draw_total, at_most) -> None:
        m, p_all = base.shape[0], delta.shape[0]
        names = self.variable_names_
        tested = np.isfinite(delta).all(axis=1) & np.isfinite(draw_total).all(axis=1)
        for j in np.flatnonzero(~tested):  # failed in some fold only: not tested at all
            self.untestable_.setdefault(names[j], "no conditional model in every fold")
        res = holdout_pvalues(base, delta[tested], draw_total[tested], self.alpha)
        res["p_rank"] = row_rank_pvalues(at_most[tested], self.n_draws)
        full = Bunch()
        for key, values in res.items():
            full[key] = np.full(p_all, np.nan)
            full[key][tested] = values
        p = {"hrt": full.p_hrt, "cpi": full.p_cpi, "rank": full.p_rank}[self.test]
        p_adj = _inference.adjust_pvalues(p, self.p_adjust)  # the tested variables only
        self.n_heldout_ = m
        self.loss_ = float(base.mean())
        self.null_distribution_ = draw_total / m
        self.loss_differences_ = delta
        self.statistics_ = dict(full)
        r2 = np.array([np.nan if cm is None else cm.r2 for cm in self.conditional_models_])
        if getattr(self, "fold_conditional_models_", None):  # cross-fitting: mean over folds
            r2 = np.array(
                [
                    np.mean([fold[j].r2 for fold in self.fold_conditional_models_])
                    if all(fold[j] is not None for fold in self.fold_conditional_models_)
                    else np.nan
                    for j in range(len(names))
                ]
            )
        self.importances_ = importance_frame(
            full.importance[None],
            names,
            ("loss",),
            signed=False,
            p_value=p[None],
            p_adjusted=p_adj[None],
            alpha=self.alpha,
            ci_low=full.ci_low[None],
            ci_high=full.ci_high[None],
            extra={
                "p_hrt": full.p_hrt[None],
                "p_cpi": full.p_cpi[None],
                "p_rank": full.p_rank[None],
                "std_error": full.std_error[None],
                "conditional_r2": r2[None],
            },
            method=self._method_name,
        )
        described = self.test_columns()
        for col in described:
            self.importances_[col] = described[col].reindex(self.importances_.index)
        self.importances_["significant"] &= self.importances_["reliable"].astype(bool)
        self.importances_.attrs["interval"] = INTERVAL  # for a figure of the bare table

    def test_columns(self) -> pd.DataFrame:
        """Per-variable descriptive columns of the test, indexed by variable: the check of the
        conditional model (``check_auc``, ``check_p``, see :meth:`check_results`),
        ``conditional_model`` (the kind of model of ``x_j`` given the others), ``note`` (why a
        variable was not tested, or why its p-value is unreliable; empty otherwise) and
        ``reliable`` (tested, and the check did not reject at ``CHECK_ALPHA``)."""
        check_is_fitted(self, "untestable_")
        names = list(self.variable_names_)
        checks = self.check_results()
        notes = []
        for n in names:
            auc, p = checks.loc[n, "check_auc"], checks.loc[n, "check_p"]
            if n in self.untestable_:
                notes.append(f"not tested: {self.untestable_[n]}")
            elif p <= CHECK_ALPHA:
                notes.append(
                    f"p-value unreliable: a classifier tells its conditional model's draws "
                    f"from the real column (AUC {auc:.2f}, p = {p:.2g}); not starred"
                )
            else:
                notes.append("")
        out = pd.DataFrame(
            {
                "conditional_model": self._kinds(),
                "note": notes,
            },
            index=pd.Index(names, name="variable"),
        )
        out["reliable"] = ~(checks["check_p"] <= CHECK_ALPHA)
        out.loc[list(self.untestable_), "reliable"] = False
        return pd.concat([checks, out], axis=1)

    # ------------------------------------------------------------------ reports
    @property
    def results_(self) -> SensitivityResult:
        """The fitted test as a report object (:class:`sensitivity.result.SensitivityResult`)."""
        return self.report(self._method_name)

    def report(self, method: str, notes: tuple[str, ...] = ()) -> SensitivityResult:
        """The report under another method name (for estimators that route their test here),
        with extra ``notes`` first.

        The result carries the test that ran (its draws and tail) and the kind of the
        intervals (:data:`INTERVAL`), which its summary, tables and figure legend print.
        """
        check_is_fitted(self, "importances_")
        kinds = sorted({k for kind in self._kinds() for k in kind.split("/") if k})
        hrt = self.test == "hrt"
        test = (
            f"holdout randomization test, {self.n_draws} conditional draws, upper-tailed"
            if hrt
            else f"one-sided t-test of the mean loss increase ({self.n_draws} draws per row)"
        )
        settings = {
            "Null": "holdout (conditional, per variable; model not refitted)",
            "Held-out rows": f"{self.n_heldout_} ({self.mode_})",
            "Conditional models": ", ".join(kinds),
            "Held-out loss": f"{self.loss_:.4g}",
        }
        notes = [
            *notes,
            "importance = mean held-out loss increase when x_j is replaced by conditional draws "
            "(CPI); p_hrt = holdout randomization test, p_cpi = one-sided t-test.",
        ]
        described = self.test_columns()
        notes += [f"{v}: {why}" for v, why in described["note"].items() if why]
        return SensitivityResult(
            self.importances_,
            method,
            model=_describe(self.estimator_),
            n_samples=self.n_heldout_,
            signed=False,
            # the HRT's p-values come from the draws (smallest 1 / (1 + n_draws)); the
            # t-test's do not
            n_permutations=self.n_draws if hrt else 0,
            n_bootstrap=0,
            alpha=self.alpha,
            p_adjust=self.p_adjust,
            settings=settings,
            notes=notes,
            null="holdout",
            hypothesis=HYPOTHESIS,
            test=test,
            interval=INTERVAL,
        )

    def summary(self, digits: int = 4) -> str:
        """Text report (:meth:`SensitivityResult.summary`)."""
        return self.results_.summary(digits)

    def plot(self, **kwargs):
        """Ranked bar chart of the importances (:func:`sensitivity.plotting.plot_importance`)."""
        return self.results_.plot(**kwargs)

    def _get_support_mask(self) -> np.ndarray:
        """Variables kept by ``transform``: the significant ones (best ranked first, at most
        ``max_features``)."""
        check_is_fitted(self, "importances_")
        f = self.importances_
        keep = f[f["significant"]].sort_values("rank", kind="stable")
        if self.max_features is not None:
            keep = keep.iloc[: self.max_features]
        chosen = set(keep.index)
        return np.array([n in chosen for n in self.variable_names_], dtype=bool)

    def predict(self, X):
        """The fitted model's ``predict``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def score(self, X, y, sample_weight=None) -> float:
        """The fitted model's ``score``."""
        check_is_fitted(self, "estimator_")
        if not hasattr(self.estimator_, "score"):
            raise TypeError(f"{type(self.estimator_).__name__} has no score method.")
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return float(self.estimator_.score(X, y, **kw))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        return tags


def _is_sklearn(model) -> bool:
    return adapters.is_refittable_model(model)


def _not_refittable(model) -> str:
    return (
        f"{type(model).__name__} cannot be refitted by this test (it is not a scikit-learn "
        "estimator): pass the trained model with prefit=True and held-out rows "
        "fit(X_train, X_test=..., y_test=...)."
    )


def _describe(model) -> str:
    if isinstance(model, torch.nn.Module | MLPBatch) or _is_sklearn(model):
        return adapters.describe_model(model)
    return getattr(model, "__name__", type(model).__name__)
