"""The common machinery of the sensitivity estimators: parameters, validation, ``fit``, the
report, screening. Subclasses only say which statistic they compute (docs/architecture.rst: no
formulas here).

A new method plugs in by subclassing :class:`BaseSensitivity` with

* ``_statistic(model, X, y)`` returning a dict of arrays ``(B, n_outputs, n_features)`` for a
  view of ``B`` networks (key ``"importance"`` at least; ``"direction"`` and any other key
  become columns of ``importances_``),
* ``is_signed`` (class attribute or property): two-sided test on ``|importance|`` or upper tail,
* an ``__init__`` taking its own parameters, decorated with :func:`with_common_parameters`, and
  ``_parameter_constraints`` extending the base's.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import adapters
from ..inference import (
    NULLS,
    P_ADJUST_METHODS,
    InferenceConfig,
    InferenceSettings,
    Statistic,
    analyse_model,
    check_target,
    seed_streams,
)
from ..inference.batched import check_train_params
from ..inference.engine import STOP_ABOVE
from ..inference.pvalues import adjust_pvalues
from ..methods import _data as _pdata
from ..network import MLPBatch
from ..result import SensitivityResult, importance_frame
from ._heldout import (
    HOLDOUT_NULL,
    LOCO_NULL,
    fit_line,
    join_test,
    per_variable_table,
    run_heldout_test,
    run_loco,
    test_summary,
)

__all__ = ["COMMON_PARAMETERS_DOC", "BaseSensitivity", "with_common_parameters"]

TESTED_STATISTIC_REFIT = "tested_statistic"
"""Column of the refitting tests' tested statistic (variable j's own network, not the analysed
network): printed beside the p-value."""


COMMON_PARAMETERS_DOC = """estimator : estimator object
        The network: an ``MLPRegressor``/``MLPClassifier``, a Pipeline of affine scalers
        ending in one, or a torch ``nn.Sequential`` (with ``prefit=True``).
    prefit : bool, default=False
        Use ``estimator`` as already fitted instead of fitting a clone on ``(X, y)`` (always
        for torch modules, which have no scikit-learn ``fit``).
    n_permutations : int, default=0
        Networks retrained under the null per test (per variable for the per-variable nulls);
        0: no test.
    early_stop : bool, default=True
        The per-variable nulls that retrain networks (``"conditional"``, ``"variable"``;
        not the held-out test) with at least 399 draws: a two-stage test. Every variable first
        gets 99 draws; one whose p-value from them exceeds 0.2 stops there and reports it, the
        others get all ``n_permutations`` draws. Exact (see
        :mod:`sensitivity.inference.engine`); variables that can matter get the full test;
        ``inference_["n_draws"]`` gives each variable's draws. False: every variable gets
        every draw.
    n_bootstrap : int, default=0
        Bootstrap resamples for percentile intervals (0: none): networks retrained on
        resampled rows, with a tenth of a cross-validated penalty (undersmoothing; a fixed
        penalty is kept). ``inference_["bootstrap_reference"]`` (the statistic of the network
        trained on all rows with that penalty) centres the "basic" and "bc" intervals of
        :func:`sensitivity.inference.bootstrap_interval`.
    alpha : float, default=0.05
        Level of the tests; ``1 - alpha`` is the confidence level of the intervals.
    p_adjust : str or None, default="holm"
        A ``statsmodels.stats.multitest.multipletests`` method, or None.
    max_features : int or None, default=None
        ``transform`` keeps at most this many variables (see ``get_support``).
    random_state : int, RandomState or None
        Seeds the test: independent streams (``numpy.random.SeedSequence`` children) for the
        initial weights and folds, the null draws, the bootstrap and the statistic's own noise.
    n_jobs : int or None
        joblib workers for the chunks of networks. Results do not depend on it.
    verbose : int, default=0
        A tqdm progress bar while networks train.
    null : {"holdout", "conditional", "loco", "variable", "response"}, default="holdout"
        The test of each variable (``n_permutations`` > 0). ``"holdout"`` (default): the
        held-out conditional test of your network's predictions (Tansey et al. 2022; Watson &
        Wright 2021): clones of ``estimator`` (same settings) are fitted on ``cv=5`` folds
        (or, with ``fit(..., X_test=, y_test=)``, your network itself is evaluated on those
        rows), and on each held-out row ``x_j`` is replaced by ``n_permutations`` draws from
        a model of ``x_j`` given the other inputs (see ``conditional``); ``loss_increase`` is
        the mean increase of the held-out loss and ``p_value`` the holdout randomization
        test's of ``H0_j: y`` independent of ``x_j`` given the other inputs. The importance
        columns stay the method applied to your network (the numbers without a test); the
        training settings (``trainer``, ``train_alpha``, ``n_init``, ``train_params``,
        ``early_stop``) are unused and ``n_bootstrap`` must be 0. A variable whose
        conditional model cannot be fitted (determined by the others) gets no p-value and a
        ``note``. ``"conditional"``: per-variable conditional randomization test of the same
        null (Candès et al. 2018) that retrains networks on ``x_j`` replaced by draws (it tests
        networks the package trains, reported in ``tested_statistic``). ``"variable"``:
        ``x_j`` permuted marginally (valid only for inputs independent of the others).
        ``"response"``: Olden & Jackson's (2002) permutation of ``y``, a *global* test that any
        input matters, reported as one p-value (no per-variable p-values or stars).
        ``"loco"``: leave-one-covariate-out (:func:`sensitivity.inference.loco_test`), clones of
        ``estimator`` refitted with and without each input on 5 folds, ``H0_j: E[y | X] =
        E[y | X_-j]``; it runs when ``n_permutations`` > 0 (it makes no draws). See the
        "Which test" page of the documentation.
    n_init : int, default=1
        Networks trained from random initial weights on the real data; the best is kept with
        its initial weights. 1 keeps the observed and null networks exchangeable (exact test);
        more (Olden & Jackson's choice) makes the test slightly liberal.
    train_alpha : float, "cv" or "estimator", default="cv"
        L2 penalty (scikit-learn's ``alpha`` units, inputs and a regression target
        standardized) of the networks the test trains. "cv": chosen by 5-fold
        cross-validation over ``1e-3 .. 30`` on the observed data; a per-variable test of
        ``x_j`` uses the penalty cross-validated with ``x_j`` replaced by a null draw (valid;
        little power for an effect ``x_j`` carries alone, with a warning naming it), and the
        bootstrap networks a tenth of it (undersmoothing). "estimator": the wrapped
        estimator's ``alpha``. A number or "estimator" is used by every network. The analysed
        network and its fit beside yours are reported (``network_``, ``summary()``); see the
        randomization page of the documentation.
    trainer : {"auto", "batched", "estimator"}, default="auto"
        ``"batched"``: the batched trainer (:mod:`sensitivity.training`) reproducing the
        network's architecture and loss; ``"estimator"``: refit clones of ``estimator``
        through joblib (any scikit-learn estimator; slower); ``"auto"``: batched when the
        model is an MLP it can reproduce.
    train_params : dict or None
        Trainer settings: ``max_iter`` (100), ``tol`` (1e-4), ``ftol`` (1e-9), ``dtype``
        (float32), ``device`` (None: CPU), ``chunk_size``, ``memory_budget_mb`` (256),
        ``block_size`` (128; part of the result's definition, unlike ``chunk_size``,
        ``memory_budget_mb`` and ``n_jobs``).
    conditional : "auto", list, dict or callable, default="auto"
        The models of ``x_j`` given the other inputs for the conditional tests. "auto": for
        the held-out test (``null="holdout"``), per input the better on held-out rows of a
        linear-gaussian regression and boosted trees with a heteroscedastic heavy-tailed
        residual law (continuous inputs), or of a logistic/multinomial regression and a
        boosted classifier (binary or few-level integer inputs), each model checked on held-out
        rows; for the refitting test (``null="conditional"``), logistic for two-valued inputs
        and linear-gaussian with resampled residuals otherwise (the models its level was
        measured with). Or a kind per variable (list, or dict by name: "gaussian", "boosting",
        "logistic", "multinomial", "classifier"), or a sampler
        ``f(X, j, rng, n_draws) -> (n_draws, n)``. See :mod:`sensitivity.conditional`; each
        model's R^2 is reported in ``importances_["conditional_r2"]``."""

_ATTRIBUTES_DOC = """estimator_ : estimator
        The analysed network. With a test it holds the weights of the network the test's
        trainer fitted on the real data, with the penalty used (``get_params()["alpha"]``).
    importances_ : pandas.DataFrame
        Ranked table (``docs/architecture.rst``); with a test, the columns of the test.
    statistics_ : dict of ndarray
        Raw statistics, ``(n_outputs, n_features)`` each.
    null_distribution_ : ndarray or None
        The statistics of the networks trained under the null (per variable for the
        per-variable nulls: ``(n_permutations, n_outputs, n_features)``); None without a test.
        With a per-variable null they are compared with ``inference_["tested_statistic"]``,
        the statistic of the network trained on the real data *within variable j's block*
        (the block's penalty ``inference_["variable_alpha"][j]`` and evaluation rows), which
        can differ from the analysed network's ``importance``. A variable stopped by the
        two-stage test (``early_stop``) has values for its first ``inference_["n_draws"][j]``
        draws and NaN after them.
    bootstrap_distribution_ : ndarray or None
    holdout_test_ : HoldoutConditionalTest or None
        With ``null="holdout"``: the fitted held-out test (its own table has the
        ``t``-interval of the loss increase, ``p_cpi``, ``p_rank`` and the fold models).
    loco_test_ : LocoResult or None
        With ``null="loco"``: the leave-one-covariate-out result
        (:func:`sensitivity.inference.loco_test`).
    global_test_ : dict or None
        ``null="response"``: the global p-value (min-p over variables) and, for replication
        only, Olden & Jackson's per-variable p-values (not per-variable tests).
    network_ : dict or None
        With a test: the analysed network's description, trainer, penalty and fit beside
        the user's (training and cross-validated R^2 or accuracy).
    inference_ : dict or None
        Diagnostics of the test's training (losses, iterations, convergence); with the
        two-stage test ``"n_draws"`` (each variable's draws) and ``"first_stage_p_value"``.
    variable_names_ : tuple of str
    output_names_ : tuple of str
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had column names."""


def with_common_parameters(init):
    """Give a subclass ``__init__(self, estimator=None, *, <own>, **common)`` the full explicit
    signature (the common parameters, then its own), as scikit-learn's ``get_params`` needs."""
    own = inspect.signature(init)
    base = inspect.signature(BaseSensitivity.__init__)
    keep = [p for n, p in own.parameters.items() if n not in ("self", "estimator", "common")]
    init.__signature__ = own.replace(parameters=[*base.parameters.values(), *keep])
    return init


def fill_doc(cls):
    """Replace ``{common_parameters}`` and ``{attributes}`` in a class docstring."""
    cls.__doc__ = cls.__doc__.replace("{common_parameters}", COMMON_PARAMETERS_DOC).replace(
        "{attributes}", _ATTRIBUTES_DOC
    )
    return cls


def _output_names_from_y(y, fitted) -> tuple[str, ...] | None:
    """Output names from the target (Series name / DataFrame columns) for regressors."""
    if y is None or adapters.is_classifier_model(fitted):
        return None
    if isinstance(y, pd.DataFrame):
        return tuple(str(c) for c in y.columns)
    if isinstance(y, pd.Series) and y.name is not None:
        return (str(y.name),)
    return None


def group_encoded(encoding, values, *, signed: bool = False):
    """Values per encoded column ``(..., n_encoded)`` summed per original variable.

    The importance of a one-hot encoded variable is the sum over its indicator columns; for a
    signed statistic, the sum of their absolute values: the indicators of one variable sum to a
    constant, so their signed contributions cancel and a signed sum would hide the variable
    (numeric columns keep their sign). ``encoding`` None: ``values`` unchanged.
    """
    if encoding is None:
        return values
    if signed:
        one_hot = np.array([encoding.one_hot[g] for g in encoding.groups])
        values = np.where(one_hot, np.abs(values), values)
    return encoding.group(values)


class BaseSensitivity(MetaEstimatorMixin, SelectorMixin, BaseEstimator):
    """Common machinery of the sensitivity estimators (not for direct use); see the module
    docstring for how a method plugs in."""

    is_signed: bool = False
    _method_name: str = ""

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["predict"]), torch.nn.Module, MLPBatch, None],
        "prefit": ["boolean"],
        "n_permutations": [Interval(Integral, 0, None, closed="left")],
        "early_stop": ["boolean"],
        "n_bootstrap": [Interval(Integral, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "p_adjust": [StrOptions(set(P_ADJUST_METHODS)), None],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "null": [StrOptions({HOLDOUT_NULL, LOCO_NULL, *NULLS})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "train_alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"cv", "estimator"})],
        "trainer": [StrOptions({"auto", "batched", "estimator"})],
        "train_params": [dict, None],
        "conditional": [StrOptions({"auto"}), list, dict, callable],
    }

    def __init__(
        self,
        estimator=None,
        *,
        prefit: bool = False,
        n_permutations: int = 0,
        early_stop: bool = True,
        n_bootstrap: int = 0,
        alpha: float = 0.05,
        p_adjust: str | None = "holm",
        max_features: int | None = None,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
        null: str = HOLDOUT_NULL,
        n_init: int = 1,
        train_alpha: float | str = "cv",
        trainer: str = "auto",
        train_params: dict | None = None,
        conditional="auto",
    ) -> None:
        self.estimator = estimator
        self.prefit = prefit
        self.n_permutations = n_permutations
        self.early_stop = early_stop
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.null = null
        self.n_init = n_init
        self.train_alpha = train_alpha
        self.trainer = trainer
        self.train_params = train_params
        self.conditional = conditional

    # ------------------------------------------------------------------ hooks
    def _model_view(self, fitted, output_names):
        """What ``_statistic`` receives for a fitted model (an MLPBatch by default).

        A Pipeline starting with a ColumnTransformer gives the MLPBatch on the encoded columns;
        ``self._encoding_`` then maps them back to the original variables.
        """
        self._encoding_ = None
        if adapters.is_encoded_mlp_model(fitted):
            self._encoding_ = adapters.to_encoded_mlp(
                fitted, feature_names=self.variable_names_, output_names=output_names
            )
            return self._encoding_.batch
        return adapters.to_mlp_batch(
            fitted, feature_names=self.variable_names_, output_names=output_names
        )

    def _group(self, values, *, signed: bool = False):
        """Per-encoded-column values summed per original variable (identity without a
        ColumnTransformer)."""
        return group_encoded(getattr(self, "_encoding_", None), values, signed=signed)

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    def _path_statistic(self, model) -> np.ndarray | None:
        return None

    def _validate_X(self, X) -> np.ndarray:
        # a network behind a ColumnTransformer takes the user's columns as they are (string
        # categories included); everything else must be numeric
        encoded = adapters.is_encoded_mlp_model(self.estimator)
        if not encoded:  # text columns named, with the fix (not "could not convert string")
            _pdata.check_numeric_columns(
                X, encoded_pipelines=getattr(self, "_encoded_pipelines", True)
            )
        X_arr = validate_data(
            self, X, reset=True, dtype=None if encoded else np.float64, ensure_all_finite=True
        )
        self.variable_names_ = (
            tuple(str(c) for c in self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else tuple(f"x{i}" for i in range(X_arr.shape[1]))
        )
        return X_arr

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, X_test=None, y_test=None, **fit_params):
        """Fit the network (unless ``prefit``), compute the importances and run the tests.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric inputs without missing values; DataFrame columns name the variables.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
            Target; required unless ``prefit=True`` without a test.
        X_test, y_test : array-like, optional
            Only with ``null="holdout"``: rows the network was not trained on; the held-out
            test then evaluates the network itself on them instead of cross-fitting clones of
            it (needed for a torch network, which cannot be refitted).
        **fit_params : dict
            Passed to the wrapped estimator's ``fit``.

        Returns
        -------
        self
        """
        check_train_params(self.train_params)  # clear errors whether or not a test runs
        if self.estimator is None:
            raise ValueError(f"{type(self).__name__} needs an estimator (a network to analyse).")
        if (X_test is not None or y_test is not None) and self.null != HOLDOUT_NULL:
            raise ValueError(
                f"X_test and y_test are only used with null={HOLDOUT_NULL!r} (the held-out "
                f"conditional test); got null={self.null!r}."
            )
        if X_test is not None and y_test is None:
            raise ValueError("X_test needs y_test (the held-out targets).")
        X_arr = self._validate_X(X)
        self.n_samples_ = int(X_arr.shape[0])
        tested = bool(self.n_permutations or self.n_bootstrap)
        if X_test is not None and not tested:
            raise ValueError(
                "X_test is only used by the held-out test: set n_permutations (its conditional "
                "draws per variable, e.g. 999), or leave X_test out."
            )
        heldout = tested and self.null in (HOLDOUT_NULL, LOCO_NULL)
        classifier = adapters.is_classifier_model(self.estimator)
        if tested:  # a test needs a usable target (the held-out rows' with X_test)
            check_target(y_test if heldout and X_test is not None else y, is_classifier=classifier)
        if not self.prefit and y is not None:  # a network is fitted to y
            check_target(y, is_classifier=classifier)
        self._streams = seed_streams(self.random_state)
        self._statistic_seed = int(
            np.random.default_rng(self._streams["statistic"]).integers(2**31 - 1)
        )
        self.estimator_ = self._fit_user_model(X, y, fit_params)
        output_names = _output_names_from_y(y, self.estimator_)
        model = self._model_view(self.estimator_, output_names)
        self.output_names_ = tuple(model.output_names)
        for name in ("null_distribution_", "bootstrap_distribution_", "path_p_values_"):
            setattr(self, name, None)
        self.global_test_ = self.network_ = self.inference_ = None
        self.holdout_test_ = self.loco_test_ = None
        if not tested or heldout:
            stats = self._statistic(model, X_arr, y)
            self.statistics_ = {k: np.asarray(v)[0] for k, v in stats.items()}
            self.importances_ = self._frame(self.statistics_)
            if heldout:
                self._heldout_test(X, y, X_test, y_test, fit_params)
            return self
        self._run_test(X_arr, y, fit_params, X)
        return self

    def _heldout_test(self, X, y, X_test, y_test, fit_params) -> None:
        """``null="holdout"`` or ``"loco"``: the per-variable test on held-out rows joined to
        the method's table of the user's network (:mod:`sensitivity.estimators._heldout`).

        The user's ``random_state`` is passed as it is: ``HoldoutConditionalTest`` or
        ``loco_test`` with the same ``random_state`` reproduce the test exactly."""
        if self.null == LOCO_NULL:
            test = run_loco(self, X, y, fit_params, self.random_state)
            table = per_variable_table(test)
            table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(), self.p_adjust)
            self.loco_test_ = test
        else:
            test = run_heldout_test(self, X, y, X_test, y_test, fit_params, self.random_state)
            table = per_variable_table(test)
            self.holdout_test_ = test
            # per draw: the held-out loss increase, (n_draws, n_features); the table's
            # loss_increase is its mean and p_value the fraction of draws at or below 0
            self.null_distribution_ = (test.null_distribution_ - test.loss_).T
        self.importances_ = join_test(self.importances_, table, self.alpha)
        self.inference_ = {
            "null": self.null,
            "fit": fit_line(self, X, y, test, y if X_test is None else y_test),
            **test_summary(
                test,
                self._method_name or type(self).__name__,
                None if self.prefit else self.n_samples_,
            ),
        }

    def _fit_user_model(self, X, y, fit_params):
        if self.prefit:
            adapters.check_model_fitted(self.estimator)
            return self.estimator
        if isinstance(self.estimator, torch.nn.Module | MLPBatch):
            raise TypeError(
                f"{type(self).__name__} cannot fit a {type(self.estimator).__name__}: train it "
                "yourself and pass prefit=True (the tests then retrain networks of its "
                "architecture with the batched trainer, or use HoldoutConditionalTest for a "
                "test without refitting)."
            )
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.fit needs y to fit the network; pass y, or "
                "prefit=True with an already fitted network."
            )
        return clone(self.estimator).fit(X, y, **fit_params)

    def _run_test(self, X_arr, y, fit_params, X_user=None) -> None:
        config = InferenceConfig(
            null=self.null,
            n_permutations=self.n_permutations,
            early_stop=self.early_stop,
            n_bootstrap=self.n_bootstrap,
            alpha=self.alpha,
            p_adjust=self.p_adjust,
            random_state=self.random_state,
            verbose=self.verbose,
            conditional_kinds=self.conditional if not callable(self.conditional) else "auto",
            conditional_sampler=self.conditional if callable(self.conditional) else None,
        )
        settings = InferenceSettings(
            trainer=self.trainer,
            train_alpha=self.train_alpha,
            train_params=self.train_params,
            n_init=self.n_init,
            n_jobs=self.n_jobs,
        )
        statistic = Statistic(self._statistic, self.is_signed, self._path_statistic)
        res, analysed, network = analyse_model(
            statistic,
            self.estimator_,
            X_arr,
            y,
            config,
            settings,
            feature_names=self.variable_names_,
            output_names=self.output_names_,
            view=lambda m: self._model_view(m, self.output_names_),
            fit_params=fit_params,
            desc=type(self).__name__,
            streams=self._streams,
            X_user=X_user,
        )
        if analysed is not None:
            self.estimator_ = analysed
        self.statistics_ = res.statistics
        self.null_distribution_ = res.null_distribution
        self.bootstrap_distribution_ = res.bootstrap_distribution
        self.path_p_values_ = res.path_p_value
        self.global_test_ = res.global_test
        self.network_ = network
        self.inference_ = res.info
        extra = {}
        if res.conditional_r2 is not None:
            extra["conditional_r2"] = np.broadcast_to(
                res.conditional_r2, res.statistics["importance"].shape
            )
        tested = (res.info or {}).get("tested_statistic")
        if tested is not None and res.p_value is not None:
            # the per-variable refitting tests compare the statistic of a network trained
            # within variable j's block (its penalty and rows), not the analysed network's
            # importance: the table shows it beside the p-value it gave
            extra[TESTED_STATISTIC_REFIT] = np.asarray(tested, dtype=np.float64)
        self.importances_ = self._frame(
            self.statistics_,
            p_value=res.p_value,
            p_adjusted=res.p_adjusted,
            ci_low=res.ci_low,
            ci_high=res.ci_high,
            extra=extra,
        )
        if TESTED_STATISTIC_REFIT in self.importances_:
            cols = [c for c in self.importances_.columns if c != TESTED_STATISTIC_REFIT]
            cols.insert(cols.index("p_value"), TESTED_STATISTIC_REFIT)
            self.importances_ = self.importances_[cols]

    def _frame(self, stats: dict[str, np.ndarray], extra=None, **inference) -> pd.DataFrame:
        cols = {k: v for k, v in stats.items() if k not in ("importance", "direction")}
        cols.update(extra or {})
        return importance_frame(
            stats["importance"],
            self.variable_names_,
            self.output_names_,
            signed=self.is_signed,
            alpha=self.alpha,
            direction=stats.get("direction"),
            extra=cols,
            method=self._method_name,
            **inference,
        )

    # ------------------------------------------------------------------ delegation
    def score(self, X, y, sample_weight=None) -> float:
        """The wrapped network's ``score`` (R² for regressors, accuracy for classifiers)."""
        check_is_fitted(self, "estimator_")
        if not hasattr(self.estimator_, "score"):
            raise TypeError(f"{type(self.estimator_).__name__} has no score method.")
        if sample_weight is None:
            return float(self.estimator_.score(X, y))
        return float(self.estimator_.score(X, y, sample_weight=sample_weight))

    def predict(self, X):
        """The wrapped network's ``predict`` on the original variables (all of them)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X):
        """The wrapped classifier's ``predict_proba`` on the original variables."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @property
    def results_(self) -> SensitivityResult:
        """The fitted analysis as a report object (summary, LaTeX/Markdown/CSV, plot).

        See :class:`sensitivity.result.SensitivityResult`.
        """
        check_is_fitted(self, "importances_")
        common = set(inspect.signature(BaseSensitivity.__init__).parameters)
        settings = {k: v for k, v in self.get_params(deep=False).items() if k not in common}
        notes = []
        encoding = getattr(self, "_encoding_", None)
        if encoding is not None and any(encoding.one_hot):
            grouped = [
                n for n, oh in zip(encoding.original_names, encoding.one_hot, strict=True) if oh
            ]
            notes.append(
                "One-hot encoded variables (importance summed over their indicator columns; "
                "absolute values for a signed statistic): " + ", ".join(grouped)
            )
        n_draws = (self.inference_ or {}).get("n_draws")
        if n_draws is not None and (n_draws < self.n_permutations).any():
            stopped = [str(v) for v, k in zip(self.variable_names_, n_draws, strict=True)
                       if k < self.n_permutations]  # fmt: skip
            notes.append(
                f"Two-stage test: {', '.join(stopped)} had p > {STOP_ABOVE:g} after "
                f"{int(n_draws.min())} draws and stopped there (their p-values come from "
                f"those draws); the other variables got all {self.n_permutations}"
            )
        info = self.inference_ or {}
        if info.get("fit"):
            settings = {**settings, "Fit": info["fit"]}
        notes += [f"Columns: {line}" for line in info.get("columns", ())]
        if "note" in self.importances_:
            untested = self.importances_["note"].groupby(level=-1, sort=False).first()
            notes += [f"{v}: {why}" for v, why in untested.items() if why]
        tested = bool(self.n_permutations)
        return SensitivityResult(
            self.importances_,
            self._method_name or type(self).__name__,
            model=adapters.describe_model(self.estimator_),
            n_samples=getattr(self, "n_samples_", None),
            signed=self.is_signed,
            n_permutations=self.n_permutations,
            n_bootstrap=self.n_bootstrap,
            alpha=self.alpha,
            p_adjust=self.p_adjust,
            settings=settings,
            notes=notes,
            null=self.null if tested else None,
            hypothesis=info.get("hypothesis"),
            global_test=self.global_test_,
            network=self.network_,
            test=info.get("test"),
        )

    def summary(self, digits: int = 4) -> str:
        """Text report of the fitted analysis (:meth:`SensitivityResult.summary`)."""
        return self.results_.summary(digits)

    def _get_support_mask(self) -> np.ndarray:
        """Variables kept by ``transform``.

        With a per-variable test: those significant for at least one output (at most
        ``max_features``, best ranked first). Without one (no test, or only the global
        response test): the ``max_features`` best ranked (all if None).
        """
        check_is_fitted(self, "importances_")
        frame = self.importances_
        tested = bool(frame["p_value"].notna().any())
        best = frame.groupby(level="variable", sort=False)["rank"].min()
        if tested:
            sig = frame.groupby(level="variable", sort=False)["significant"].any()
            best = best[sig.reindex(best.index).to_numpy()]
        best = best.sort_values(kind="stable")
        if self.max_features is not None:
            best = best.iloc[: self.max_features]
        keep = set(best.index)
        return np.array([n in keep for n in self.variable_names_], dtype=bool)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
